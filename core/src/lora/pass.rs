//! LoRA as the model's [`Adapter`]: one pass's buffers ([`LoraBuffers`]: `u = x·Aᵀ` of each
//! adapted linear, saved by the forward for the backward, and the scratch of the branch) and the
//! pass itself ([`LoraPass`]: the parameters, those buffers and, in training, the dropout key).
//! The products are [`super::branch`]'s; a slot with DoRA state goes through [`super::dora`]
//! instead (the same `u`, dropout and scratch, plus DoRA's two `(R, out)` scratch buffers).

use super::branch::{self, BranchDropout, LoraDropout};
use super::dora;
use crate::ops::dropout::{dropout_backward, dropout_forward};
use super::params::LoraParams;
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::buffers::{BufferSpec, Kept};
use crate::model::linear::{Adapter, Linear, Site, Target};
use std::borrow::Borrow;

/// LoRA's buffers for passes over `rows` tokens.
pub struct LoraBuffers {
    rows: usize,
    /// `u = x·Aᵀ` (R, r) of each adapted linear by [`Target::index`]: per layer when the
    /// forward keeps every layer's activations, else one set shared by all layers.
    u: Vec<[Option<GpuTensor>; 7]>,
    /// `du` (R, r): backward scratch.
    du: Option<GpuTensor>,
    /// Dropout scratch (R, largest adapted in-features): `x̃ = dropout(x)` and its gradient.
    xd: Option<GpuTensor>,
    dxd: Option<GpuTensor>,
    /// DoRA scratch (R, largest DoRA out-features): `z` (every pass) and `g ⊙ dy` (backward).
    dora_z: Option<GpuTensor>,
    dora_dyg: Option<GpuTensor>,
}

impl LoraBuffers {
    /// Buffers for passes of `rows` tokens through `params`: `per_layer` keeps one `u` per
    /// adapted (layer, linear) (training without recomputation), `training` adds the backward
    /// scratch (and, with dropout, its two scratch buffers).
    pub fn new(gpu: &Gpu, params: &LoraParams, rows: usize, per_layer: bool, training: bool) -> LoraBuffers {
        let z = |shape: &[usize]| GpuTensor::zeros(gpu, shape);
        let n_sets = if per_layer { params.slots.len() } else { 1 };
        let u = (0..n_sets)
            .map(|set| {
                Target::ALL.map(|target| {
                    // A shared set gets every linear any layer adapts.
                    let adapted = if per_layer {
                        params.slot(set, target).is_some()
                    } else {
                        params.iter().any(|(_, t, _)| t == target)
                    };
                    adapted.then(|| z(&[rows, params.rank]))
                })
            })
            .collect();
        let dropout = training && params.dropout > 0.0;
        let max_in = max_in_features(params);
        let dora_out = max_dora_out_features(params);
        LoraBuffers {
            rows,
            u,
            du: training.then(|| z(&[rows, params.rank])),
            xd: dropout.then(|| z(&[rows, max_in])),
            dxd: dropout.then(|| z(&[rows, max_in])),
            dora_z: (dora_out > 0).then(|| z(&[rows, dora_out])),
            dora_dyg: (training && dora_out > 0).then(|| z(&[rows, dora_out])),
        }
    }

    /// What [`LoraBuffers::new`] allocates, as (count, spec), for the memory estimate.
    pub fn specs(params: &LoraParams, rows: usize, per_layer: bool, training: bool) -> Vec<(usize, BufferSpec)> {
        let n_u = if per_layer {
            params.iter().count()
        } else {
            Target::ALL.iter().filter(|&&t| params.iter().any(|(_, pt, _)| pt == t)).count()
        };
        let spec = |name, shape: Vec<usize>| BufferSpec::new(name, shape, Kept::Training);
        let mut specs = vec![(n_u, BufferSpec { kept: Kept::Always, ..spec("lora_u", vec![rows, params.rank]) })];
        let dora_out = max_dora_out_features(params);
        if dora_out > 0 {
            specs.push((1, BufferSpec { kept: Kept::Always, ..spec("dora_z", vec![rows, dora_out]) }));
            if training {
                specs.push((1, spec("dora_dy_scaled", vec![rows, dora_out])));
            }
        }
        if training {
            specs.push((1, spec("lora_du", vec![rows, params.rank])));
            if params.dropout > 0.0 {
                specs.push((2, spec("lora_dropout_x", vec![rows, max_in_features(params)])));
            }
        }
        specs
    }

    fn u(&self, site: Site) -> Option<&GpuTensor> {
        self.u[site.layer.min(self.u.len() - 1)][site.target.index()].as_ref()
    }
}

fn max_in_features(params: &LoraParams) -> usize {
    params.iter().map(|(_, _, s)| s.d_in).max().unwrap_or(0)
}

fn max_dora_out_features(params: &LoraParams) -> usize {
    params.iter().filter(|(_, _, s)| s.dora.is_some()).map(|(_, _, s)| s.d_out).max().unwrap_or(0)
}

/// One forward (and backward) pass of LoRA: `params`, the pass's buffers (borrowed from the
/// trainer, or owned for an inference pass) and the dropout of a training pass (`None`: off).
pub struct LoraPass<'a, B: Borrow<LoraBuffers> = &'a LoraBuffers> {
    params: &'a LoraParams,
    bufs: B,
    dropout: Option<LoraDropout>,
}

impl<'a, B: Borrow<LoraBuffers>> LoraPass<'a, B> {
    /// `dropout` with p = 0 is the same as `None`.
    pub fn new(params: &'a LoraParams, bufs: B, dropout: Option<LoraDropout>) -> Self {
        LoraPass { params, bufs, dropout: dropout.filter(|d| d.p > 0.0) }
    }

    /// The dropout of `site` in this pass, with its scratch.
    fn branch_dropout(&self, site: Site, d_in: usize) -> Result<Option<BranchDropout>> {
        let Some(d) = self.dropout else { return Ok(None) };
        let bufs = self.bufs.borrow();
        let xd = bufs.xd.as_ref().ok_or_else(|| missing("dropout"))?;
        Ok(Some(BranchDropout { p: d.p, key: d.key(site.layer, site.target), xd: xd.view(&[bufs.rows, d_in])? }))
    }
}

/// DoRA scratch `(rows, d_out)` of one linear.
fn dora_view(t: &Option<GpuTensor>, rows: usize, d_out: usize) -> Result<GpuTensor> {
    t.as_ref().ok_or_else(|| missing("DoRA"))?.view(&[rows, d_out])
}

fn missing(what: &str) -> crate::Error {
    crate::Error::invalid("LoRA buffers", format!("these buffers have no {what} scratch (made for another kind of pass)"))
}

impl<B: Borrow<LoraBuffers>> Adapter for LoraPass<'_, B> {
    fn adapts(&self, site: Site) -> bool {
        self.params.slot(site.layer, site.target).is_some()
    }

    fn lowest_layer(&self) -> Option<usize> {
        self.params.iter().map(|(layer, _, _)| layer).min()
    }

    fn forward(&self, rec: &mut Recorder, base: &Linear<'_>, x: &GpuTensor, y: &GpuTensor) -> Result<()> {
        let (bufs, site) = (self.bufs.borrow(), base.site);
        let (Some(slot), Some(u)) = (self.params.slot(site.layer, site.target), bufs.u(site)) else { return Ok(()) };
        let dims = self.params.dims(slot, bufs.rows);
        if let Some(dora) = &slot.dora {
            let z = dora_view(&bufs.dora_z, bufs.rows, slot.d_out)?;
            let drop = self.branch_dropout(site, slot.d_in)?;
            if let Some(d) = &drop {
                dropout_forward(rec, x, &d.xd, d.p, d.key)?;
            }
            let xb = drop.as_ref().map_or(x, |d| &d.xd);
            return dora::dora_forward(rec, dims, base.weight, dora, &z, xb, &slot.a, &slot.b, u, y);
        }
        match self.branch_dropout(site, slot.d_in)? {
            Some(drop) => branch::lora_forward_dropout(rec, dims, &drop, x, &slot.a, &slot.b, u, y),
            None => branch::lora_forward(rec, dims, x, &slot.a, &slot.b, u, y),
        }
    }

    fn adds_to_output(&self, site: Site) -> bool {
        self.params.slot(site.layer, site.target).is_some_and(|slot| slot.dora.is_none())
    }

    fn backward(&self, rec: &mut Recorder, base: &Linear<'_>, x: &GpuTensor, dy: &GpuTensor, dx: &GpuTensor) -> Result<()> {
        let (bufs, site) = (self.bufs.borrow(), base.site);
        let (Some(slot), Some(u)) = (self.params.slot(site.layer, site.target), bufs.u(site)) else { return Ok(()) };
        let du = bufs.du.as_ref().ok_or_else(|| missing("backward"))?;
        let dims = self.params.dims(slot, bufs.rows);
        let (a, b, ga, gb) = (&slot.a, &slot.b, &slot.grad_a, &slot.grad_b);
        if let Some(dora) = &slot.dora {
            let z = dora_view(&bufs.dora_z, bufs.rows, slot.d_out)?;
            let dyg = dora_view(&bufs.dora_dyg, bufs.rows, slot.d_out)?;
            let w = base.weight;
            return match self.branch_dropout(site, slot.d_in)? {
                Some(drop) => {
                    let dxd = bufs.dxd.as_ref().ok_or_else(|| missing("dropout"))?.view(&[bufs.rows, slot.d_in])?;
                    dropout_forward(rec, x, &drop.xd, drop.p, drop.key)?;
                    dora::dora_backward(rec, dims, w, dora, (&z, &dyg), &drop.xd, (a, b, u), dy, du, (ga, gb), &dxd, false)?;
                    dropout_backward(rec, &dxd, dx, drop.p, drop.key, true)
                }
                None => dora::dora_backward(rec, dims, w, dora, (&z, &dyg), x, (a, b, u), dy, du, (ga, gb), dx, true),
            };
        }
        match self.branch_dropout(site, slot.d_in)? {
            Some(drop) => {
                let dxd = bufs.dxd.as_ref().ok_or_else(|| missing("dropout"))?.view(&[bufs.rows, slot.d_in])?;
                branch::lora_backward_dropout(rec, dims, &drop, &dxd, x, a, b, u, dy, du, ga, gb, dx)
            }
            None => branch::lora_backward(rec, dims, x, a, b, u, dy, du, ga, gb, dx),
        }
    }
}
