//! The synthetic models of `anytune bench --synthetic` hold exactly the tensors of the real
//! files they stand for: every name, shape and GGUF type (for Gemma 3 that checks core's
//! Q4_K_M preset rule, `quant::presets`, against the published Q4_K_M file).

use anytune_core::formats::GgufFile;
use anytune_core::model::synthetic::find_synthetic;
use std::collections::BTreeMap;

type Table = BTreeMap<String, (String, Vec<usize>)>;

fn real_table(path: &std::path::Path) -> Table {
    let bytes = std::fs::read(path).unwrap();
    let file = GgufFile::parse(&bytes, &path.display().to_string()).unwrap();
    file.tensors.iter().map(|t| (t.name.clone(), (t.ty(&t.name).unwrap().name().to_string(), t.shape.clone()))).collect()
}

fn synthetic_table(name: &str) -> Table {
    find_synthetic(name).unwrap().tensors().into_iter().map(|(n, ty, shape)| (n, (ty.name().to_string(), shape))).collect()
}

fn assert_same(synthetic: &str, real: &Table) {
    let ours = synthetic_table(synthetic);
    for (name, want) in real {
        assert_eq!(ours.get(name), Some(want), "{synthetic}: tensor {name}");
    }
    assert_eq!(ours.len(), real.len(), "{synthetic}: tensor count");
}

#[test]
fn synthetic_smollm2_holds_the_default_models_tensors() {
    assert_same("smollm2-135m", &real_table(&anytune::named_models::default_model_path().unwrap()));
}

#[test]
fn synthetic_gemma3_holds_the_q4_k_m_files_tensors() {
    assert_same("gemma3-270m", &real_table(&anytune::named_models::find("gemma3-270m").unwrap().path().unwrap()));
}
