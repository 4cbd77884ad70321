//! The comparison: prompts, every system's answers, and the pairs (base vs each adapter) in a
//! blinded order — which pairs come first and which answer of a pair is on the left are drawn
//! from a seeded shuffle, recorded in the report so the page and its marks can be traced back.

use super::prompts::Prompt;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The name of the base model's system (adapters may not take it).
pub const BASE: &str = "base";

/// Adapters one comparison may hold.
pub const MAX_ADAPTERS: usize = 16;

/// Characters of an adapter's name.
pub const MAX_NAME_CHARS: usize = 64;

/// One rating task: the base model's and one adapter's answer to one prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Index into [`Report::prompts`].
    pub prompt: usize,
    /// Index into [`Report::systems`] (≥ 1: an adapter; 0 is the base).
    pub adapter: usize,
    /// Whether the base model's answer is shown on the left.
    pub base_left: bool,
}

impl Pair {
    /// The systems shown on the left and on the right.
    pub fn sides(&self) -> [usize; 2] {
        if self.base_left { [0, self.adapter] } else { [self.adapter, 0] }
    }
}

/// A finished comparison, ready to be written as a rating page ([`super::html::page`]).
#[derive(Clone, Debug)]
pub struct Report {
    /// A hash of everything below (16 hex digits): the marks name it, the page keys its saved
    /// marks by it.
    pub id: String,
    /// The prompts file's name, as given.
    pub prompts_file: String,
    pub prompts: Vec<Prompt>,
    /// `systems[0]` is [`BASE`], then the adapters' names.
    pub systems: Vec<String>,
    /// `answers[system][prompt]`.
    pub answers: Vec<Vec<String>>,
    /// In the order the page shows them.
    pub pairs: Vec<Pair>,
    /// How the answers were generated ("greedy, at most 128 new tokens"), shown on the page.
    pub settings: String,
    /// The seed of the pairs' order and sides.
    pub shuffle_seed: u64,
}

/// Refuses adapter names that are empty, longer than [`MAX_NAME_CHARS`], hold control
/// characters, repeat, or are [`BASE`]; and more than [`MAX_ADAPTERS`] of them, or none.
pub fn check_names(names: &[String]) -> Result<()> {
    let bad = |what: String| Err(Error::invalid("--adapter", what));
    if names.is_empty() {
        return bad("give at least one adapter to compare with the base model".into());
    }
    if names.len() > MAX_ADAPTERS {
        return bad(format!("{} adapters; at most {MAX_ADAPTERS} in one comparison", names.len()));
    }
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return bad(format!("name {name:?} is not 1 to {MAX_NAME_CHARS} printable characters (NAME=DIR sets it)"));
        }
        if name == BASE {
            return bad(format!("`{BASE}` names the base model; give the adapter another name with NAME=DIR"));
        }
        if names[..i].contains(name) {
            return bad(format!("two adapters are named {name:?}; name them with NAME=DIR"));
        }
    }
    Ok(())
}

impl Report {
    /// Pairs every prompt's base answer with each adapter's and shuffles them with
    /// `shuffle_seed`. `adapters` are the adapters' names ([`check_names`]); `answers` holds the
    /// base's answers first, then each adapter's, one per prompt.
    pub fn new(prompts_file: &str, prompts: Vec<Prompt>, adapters: &[String], answers: Vec<Vec<String>>, settings: &str, shuffle_seed: u64) -> Result<Report> {
        check_names(adapters)?;
        let systems: Vec<String> = std::iter::once(BASE.to_string()).chain(adapters.iter().cloned()).collect();
        if answers.len() != systems.len() || answers.iter().any(|a| a.len() != prompts.len()) {
            return Err(Error::invalid("answers", format!("expected {} answers for each of {} systems", prompts.len(), systems.len())));
        }
        let mut rng = Rng::new(shuffle_seed);
        let mut pairs: Vec<Pair> = (0..prompts.len())
            .flat_map(|prompt| (1..systems.len()).map(move |adapter| Pair { prompt, adapter, base_left: true }))
            .collect();
        for i in (1..pairs.len()).rev() {
            pairs.swap(i, rng.below(i + 1));
        }
        for pair in &mut pairs {
            pair.base_left = rng.next_u64() & 1 == 0;
        }
        let mut report = Report { id: String::new(), prompts_file: prompts_file.to_string(), prompts, systems, answers, pairs, settings: settings.to_string(), shuffle_seed };
        report.id = report.hash();
        Ok(report)
    }

    /// FNV-1a (64 bits) over the prompts, systems, answers, pairs and settings, as 16 hex digits.
    fn hash(&self) -> String {
        let mut h = Fnv(0xcbf29ce484222325);
        h.text(&self.prompts_file);
        for p in &self.prompts {
            h.text(&p.display());
            h.text(p.expected.as_deref().unwrap_or("\u{0}none"));
        }
        self.systems.iter().for_each(|s| h.text(s));
        self.answers.iter().flatten().for_each(|a| h.text(a));
        for pair in &self.pairs {
            h.text(&format!("{}:{}:{}", pair.prompt, pair.adapter, pair.base_left));
        }
        h.text(&self.settings);
        h.text(&self.shuffle_seed.to_string());
        format!("{:016x}", h.0)
    }
}

/// FNV-1a, 64 bits; each text is followed by a 0xff byte (never in UTF-8) so texts cannot run
/// into each other.
struct Fnv(u64);

impl Fnv {
    fn text(&mut self, s: &str) {
        for &b in s.as_bytes().iter().chain([0xffu8].iter()) {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::compare::prompts::read_prompts;

    /// Three raw prompts, adapters `a` and `b`; answers "<system> answers <prompt>".
    pub(crate) fn report(seed: u64) -> Report {
        let prompts = read_prompts(b"one\ntwo\nthree\n", "p.txt", true).unwrap();
        let adapters = vec!["a".to_string(), "b".to_string()];
        let answers = ["base", "a", "b"].iter().map(|s| (0..3).map(|p| format!("{s} answers {p}")).collect()).collect();
        Report::new("p.txt", prompts, &adapters, answers, "greedy", seed).unwrap()
    }

    #[test]
    fn every_prompt_is_paired_with_each_adapter_once_in_a_seeded_order() {
        let r = report(7);
        let mut seen: Vec<(usize, usize)> = r.pairs.iter().map(|p| (p.prompt, p.adapter)).collect();
        seen.sort();
        assert_eq!(seen, vec![(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]);
        assert_eq!(report(7).pairs, r.pairs, "the same seed gives the same order");
        assert_eq!(report(7).id, r.id);
        let other = (0..20).map(report).find(|o| o.pairs != r.pairs).expect("another seed, another order");
        assert_ne!(other.id, r.id);
        let left: usize = (0..20).map(report).flat_map(|o| o.pairs).filter(|p| p.base_left).count();
        assert!((30..=90).contains(&left), "the base is on the left about half the time: {left} of 120");
    }

    #[test]
    fn bad_adapter_names_are_refused() {
        let names = |n: &[&str]| check_names(&n.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(|e| e.to_string());
        for (n, expect) in [
            (&[][..], "at least one adapter"),
            (&["base"][..], "`base` names the base model"),
            (&["a", "a"][..], "two adapters are named \"a\""),
            (&[" "][..], "is not 1 to 64 printable"),
            (&["a\nb"][..], "is not 1 to 64 printable"),
        ] {
            let msg = names(n).unwrap_err();
            assert!(msg.starts_with("invalid --adapter: ") && msg.contains(expect), "{n:?}: {msg}");
        }
        let many: Vec<String> = (0..17).map(|i| format!("x{i}")).collect();
        assert!(check_names(&many).unwrap_err().to_string().contains("at most 16"));
        names(&["lora-a", "zorblax v2"]).unwrap();
    }
}
