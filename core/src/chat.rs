//! Chat templates: the Jinja template a model ships (GGUF `tokenizer.chat_template`, or
//! `chat_template` in `tokenizer_config.json`) rendered with minijinja, set up like transformers'
//! `apply_chat_template` environment: `trim_blocks` and `lstrip_blocks` on, `raise_exception(msg)`,
//! `strftime_now(fmt)`, a Python-style `tojson` (`", "` and `": "` separators, no ASCII escaping),
//! and Python string/dict methods (`.strip()`, `.startswith()`, `.split()`, `.items()`, …).
//!
//! ```
//! use anytune_core::chat::{ChatTemplate, Message};
//! let t = ChatTemplate::new("{% for m in messages %}<|{{ m.role }}|>{{ m.content.strip() }}\n{% endfor %}")?;
//! let s = t.render(&[Message::user(" hi ")], false, "<s>", "</s>")?;
//! assert_eq!(s, "<|user|>hi\n");
//! # Ok::<(), anytune_core::Error>(())
//! ```
//!
//! Not supported: transformers' `{% generation %}` block.
//!
//! # Limits
//! A template is a program from a model file, so every rendering runs under limits and a template
//! that exceeds one is refused with its origin and the limit (never a hang or an abort):
//! - [`template_fuel`] steps (minijinja's fuel: about one per instruction): 10,000 plus 500 per
//!   message, at most [`TEMPLATE_FUEL`]; a real template spends a few hundred per message,
//!   nested `range(100000)` loops or loops over the messages inside loops over the messages run
//!   out at once;
//! - [`MAX_RENDERED_BYTES`] of output (`{{ 'x' * 100000000 }}` in a loop stops at the limit);
//! - minijinja's own bounds: 500 levels of recursion, `range` of at most 100,000 items, one
//!   repeated string (`'x' * n`) of at most 100 MB.
//!
//! Not bounded: strings a template builds without writing them out (doubling a namespace
//! attribute in a loop); minijinja offers no hook on value sizes.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, ErrorKind, context};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::tokenizer::TemplateSource;

/// Steps (minijinja fuel, about one per instruction) one rendering may take at most. SmolLM2's
/// and Llama 3's templates spend about 20–300 per message, so this allows conversations of
/// thousands of messages and stops a runaway template within a fraction of a second.
pub const TEMPLATE_FUEL: u64 = 2_000_000;

/// Steps a rendering of `n` messages may take: [`TEMPLATE_FUEL_BASE`] plus
/// [`TEMPLATE_FUEL_PER_MESSAGE`] per message, at most [`TEMPLATE_FUEL`]. A real template's work
/// grows linearly with the messages; one that loops over the messages inside a loop over the
/// messages (and stringifies them on every step, which costs as much as the conversation is
/// long) runs out at once instead of running for minutes (found by the `chat_template` fuzz
/// target).
pub fn template_fuel(n: usize) -> u64 {
    TEMPLATE_FUEL_BASE.saturating_add(TEMPLATE_FUEL_PER_MESSAGE.saturating_mul(n as u64)).min(TEMPLATE_FUEL)
}
pub const TEMPLATE_FUEL_BASE: u64 = 10_000;
pub const TEMPLATE_FUEL_PER_MESSAGE: u64 = 500;

/// Bytes of text one rendering may write (64 MiB: far more than any sequence can hold; the
/// dataset pipeline cuts long rows before rendering, see `data::encode`).
pub const MAX_RENDERED_BYTES: usize = 64 << 20;

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    /// "system", "user" or "assistant".
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message { role: role.into(), content: content.into() }
    }
    pub fn system(content: impl Into<String>) -> Message {
        Message::new("system", content)
    }
    pub fn user(content: impl Into<String>) -> Message {
        Message::new("user", content)
    }
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::new("assistant", content)
    }
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
    /// Where the template came from, for error messages.
    origin: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles a template given as text (errors call it "chat template").
    pub fn new(source: &str) -> Result<ChatTemplate> {
        ChatTemplate::with_origin(source, "chat template")
    }

    /// Compiles the template a tokenizer shipped, naming its file and key in errors.
    pub fn from_source(t: &TemplateSource) -> Result<ChatTemplate> {
        ChatTemplate::with_origin(&t.source, &t.origin)
    }

    /// Compiles `source`; `origin` (e.g. "model.gguf: tokenizer.chat_template") names it in errors.
    pub fn with_origin(source: &str, origin: &str) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.set_fuel(Some(TEMPLATE_FUEL));
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| Error::Tokenizer(format!("{origin}: the chat template does not compile: {}", describe(&e))))?;
        Ok(ChatTemplate { env, origin: origin.to_string() })
    }

    /// Renders `messages` as transformers' `apply_chat_template(messages, tokenize=False,
    /// add_generation_prompt=...)` does (with `tools` and `documents` set to none).
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<String> {
        let fuel = template_fuel(messages.len());
        let fail = |e: minijinja::Error| self.render_error(&e, fuel);
        // The environment shares its compiled template; a clone carries this rendering's fuel.
        let mut env = self.env.clone();
        env.set_fuel(Some(fuel));
        let tmpl = env.get_template("chat").map_err(fail)?;
        let mut out = LimitedOutput { text: Vec::new(), limit: MAX_RENDERED_BYTES, exceeded: false };
        let ctx = context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => bos_token,
            eos_token => eos_token,
            tools => Value::from(()),
            documents => Value::from(()),
        };
        match tmpl.render_captured_to(ctx, &mut out) {
            Err(_) if out.exceeded => Err(Error::Tokenizer(format!(
                "{}: the chat template wrote more than the limit of {} MiB of text",
                self.origin,
                MAX_RENDERED_BYTES >> 20
            ))),
            Err(e) => Err(fail(e)),
            Ok(_) => String::from_utf8(out.text).map_err(|_| {
                Error::Tokenizer(format!("{}: the chat template wrote text that is not UTF-8", self.origin))
            }),
        }
    }

    /// A rendering error naming the origin (and the step limit when the template ran out of fuel).
    fn render_error(&self, e: &minijinja::Error, fuel: u64) -> Error {
        if e.kind() == ErrorKind::OutOfFuel {
            return Error::Tokenizer(format!(
                "{}: the chat template ran out of fuel (limit {fuel} steps for this conversation): it loops too long",
                self.origin
            ));
        }
        Error::Tokenizer(format!("{}: rendering failed: {}", self.origin, describe(e)))
    }
}

/// The rendering's output, refusing to grow past `limit` bytes.
struct LimitedOutput {
    text: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl std::io::Write for LimitedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("the chat template's output is too long"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The error's message with its causes and, for template errors, the line.
fn describe(e: &minijinja::Error) -> String {
    let mut s = match (e.kind(), e.detail()) {
        (ErrorKind::InvalidOperation, Some(d)) if e.name().is_some() => d.to_string(),
        _ => e.to_string(),
    };
    if let Some(line) = e.line()
        && !s.contains("line")
    {
        s += &format!(" (template line {line})");
    }
    s
}

/// `raise_exception(msg)`: templates reject unsupported conversations with it.
fn raise_exception(msg: String) -> std::result::Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("the template raised an exception: {msg}")))
}

/// `strftime_now(fmt)`: the current date and time (UTC) formatted like Python's `strftime`.
fn strftime_now(fmt: String) -> String {
    strftime(&fmt, unix_now_secs())
}

#[cfg(not(target_arch = "wasm32"))]
fn unix_now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(target_arch = "wasm32")]
fn unix_now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Python-`strftime` subset: %Y %y %m %d %e %-d %-m %H %I %M %S %p %b %B %a %A %j %%.
pub fn strftime(fmt: &str, unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86400);
    let secs = unix_secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = chars.next();
        let no_pad = spec == Some('-');
        if no_pad {
            spec = chars.next();
        }
        let num = |v: i64, w: usize| if no_pad { v.to_string() } else { format!("{v:0w$}") };
        match spec {
            Some('Y') => out += &y.to_string(),
            Some('y') => out += &num(y.rem_euclid(100), 2),
            Some('m') => out += &num(m, 2),
            Some('d') => out += &num(d, 2),
            Some('e') => out += &format!("{d:2}"),
            Some('H') => out += &num(hh, 2),
            Some('I') => out += &num((hh + 11) % 12 + 1, 2),
            Some('M') => out += &num(mm, 2),
            Some('S') => out += &num(ss, 2),
            Some('p') => out += if hh < 12 { "AM" } else { "PM" },
            Some('B') => out += MONTHS[(m - 1) as usize],
            Some('b') => out += &MONTHS[(m - 1) as usize][..3],
            Some('A') => out += WEEKDAYS[weekday],
            Some('a') => out += &WEEKDAYS[weekday][..3],
            Some('j') => out += &num(yday, 3),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                if no_pad {
                    out.push('-');
                }
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `tojson` as transformers defines it: `json.dumps(x, ensure_ascii=False, indent=indent,
/// sort_keys=sort_keys)`: `", "`/`": "` separators (`","` between items when indenting).
fn tojson(v: Value, kwargs: Kwargs) -> std::result::Result<Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    py_json(&v, indent, sort_keys.unwrap_or(false), 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

fn py_json(
    v: &Value,
    indent: Option<usize>,
    sort: bool,
    level: usize,
    out: &mut String,
) -> std::result::Result<(), minijinja::Error> {
    let json_err = |e: serde_json::Error| minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}"));
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * level));
        }
    };
    let sep = if indent.is_some() { "," } else { ", " };
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, level + 1);
                py_json(item, indent, sort, level + 1, out)?;
            }
            newline(out, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter()?.collect();
            if sort {
                keys.sort();
            }
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, level + 1);
                let key = match k.as_str() {
                    Some(s) => s.to_string(),
                    None => k.to_string(),
                };
                out.push_str(&serde_json::to_string(&key).map_err(json_err)?);
                out.push_str(": ");
                py_json(&v.get_item(k)?, indent, sort, level + 1, out)?;
            }
            newline(out, level);
            out.push('}');
        }
        _ => out.push_str(&serde_json::to_string(v).map_err(json_err)?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exercises trim/lstrip blocks, raise_exception, pycompat methods, loop.first/last, tojson.
    /// (The map literal's keys are in sorted order: without minijinja's `preserve_order` feature
    /// template map literals iterate sorted, where Python keeps insertion order.)
    const TEMPLATE: &str = r#"{{ bos_token }}
{%- for m in messages %}
    {%- if m.role not in ['system', 'user', 'assistant'] %}
        {{- raise_exception('unknown role ' + m.role) }}
    {%- endif %}
    {%- set text = m['content'].strip() %}
    {%- if text.startswith('/') %}{% set text = text.split(' ')[1:] | join('_') %}{% endif %}
<{{ m.role.upper() }}>{{ text }}{% if loop.last %}[last]{% endif %}{% if loop.first %}[first]{% endif %}
    {%- if m.role == 'assistant' %}{{ eos_token }}{% endif %}
{% endfor %}
{{ {'a': 'é"\n', 'b': [1, 2.5, none, true]} | tojson }}
{{ messages[0] | tojson(indent=2) }}
{% if tools is not none %}TOOLS{% endif %}
{%- if add_generation_prompt %}<ASSISTANT>{% endif %}"#;

    #[test]
    fn render_matches_transformers() {
        // tok.apply_chat_template(messages, chat_template=TEMPLATE, tokenize=False,
        //                         add_generation_prompt=True)  with bos/eos of SmolLM2.
        let msgs = [Message::system("  Be brief. "), Message::user("/cmd a b c"), Message::assistant("ok")];
        let got = ChatTemplate::new(TEMPLATE).unwrap().render(&msgs, true, "<|im_start|>", "<|im_end|>").unwrap();
        let want = "<|im_start|><SYSTEM>Be brief.[first]<USER>a_b_c<ASSISTANT>ok[last]<|im_end|>\
                    {\"a\": \"é\\\"\\n\", \"b\": [1, 2.5, null, true]}\n\
                    {\n  \"role\": \"system\",\n  \"content\": \"  Be brief. \"\n}\n<ASSISTANT>";
        assert_eq!(got, want);
    }

    #[test]
    fn raise_exception_and_syntax_errors_name_the_origin() {
        let t = ChatTemplate::with_origin(TEMPLATE, "model.gguf: tokenizer.chat_template").unwrap();
        let err = t.render(&[Message::new("tool", "x")], false, "", "").unwrap_err().to_string();
        assert!(err.contains("model.gguf: tokenizer.chat_template") && err.contains("unknown role tool"), "{err}");
        let err = ChatTemplate::with_origin("{% for m in messages %}", "tokenizer_config.json: chat_template")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tokenizer_config.json: chat_template") && err.contains("does not compile"), "{err}");
    }

    #[test]
    fn strftime_formats_like_python() {
        // datetime.fromtimestamp(1722470400 + 13*3600 + 5*60 + 9, timezone.utc).strftime(...)
        let t = 1722470400 + 13 * 3600 + 5 * 60 + 9; // 2024-08-01 13:05:09 UTC, a Thursday
        assert_eq!(strftime("%d %b %Y", t), "01 Aug 2024");
        assert_eq!(strftime("%A %B %-d, %y %H:%M:%S %I%p %j %%", t), "Thursday August 1, 24 13:05:09 01PM 214 %");
        assert_eq!(strftime("%Y-%m-%d", 951782400), "2000-02-29");
        assert_eq!(strftime("%Y-%m-%d", -86400), "1969-12-31");
        let now = ChatTemplate::new("{{ strftime_now('%Y') }}").unwrap().render(&[], false, "", "").unwrap();
        assert!(now.parse::<i32>().unwrap() >= 2025, "{now}");
    }

    /// Templates that loop too long or write too much are refused quickly, naming the limit.
    #[test]
    fn runaway_templates_hit_the_limits() {
        let origin = "tokenizer_config.json: chat_template";
        let refuse = |src: &str| {
            let start = std::time::Instant::now();
            let e = ChatTemplate::with_origin(src, origin).unwrap().render(&[Message::user("hi")], true, "", "");
            assert!(start.elapsed().as_secs() < 20, "{src}: took {:?}", start.elapsed());
            e.unwrap_err().to_string()
        };
        let e = refuse("{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}");
        assert!(e.contains(origin) && e.contains("ran out of fuel (limit "), "{e}");
        let e = refuse("{% for i in range(100000) %}{{ 'x' * 10000000 }}{% endfor %}");
        assert!(e.contains(origin) && e.contains("more than the limit of 64 MiB"), "{e}");
        let e = refuse("{% for i in range(1000) %}{{ 'x' * 100000000 }}{% endfor %}");
        assert!(e.contains(origin) && e.contains("64 MiB"), "{e}");
        let e = refuse("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        assert!(e.contains(origin) && e.contains("recursion"), "{e}");
    }

    /// Found by the `chat_template` fuzz target: loops over the messages inside loops over the
    /// messages, stringifying them on every step, took minutes under the fixed fuel of 2,000,000
    /// steps; the fuel now grows with the messages, so this stops at once.
    #[test]
    fn nested_loops_over_the_messages_run_out_of_fuel_quickly() {
        let t = ChatTemplate::new(
            "{% for a in messages %}{% for b in messages %}{% for c in messages %}\
             {{ c['content'] or c in messages | trim }}{% endfor %}{% endfor %}{% endfor %}",
        )
        .unwrap();
        let msgs: Vec<Message> = (0..120).map(|i| Message::user(format!("message {i}"))).collect();
        let start = std::time::Instant::now();
        let e = t.render(&msgs, true, "", "").unwrap_err().to_string();
        assert!(e.contains("ran out of fuel (limit 70000 steps"), "{e}");
        assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
        // One loop over the same messages renders.
        let one = ChatTemplate::new("{% for m in messages %}{{ m['content'] }}\n{% endfor %}").unwrap();
        assert_eq!(one.render(&msgs, true, "", "").unwrap().lines().count(), 120);
    }

    /// A ChatML template spends a few steps per message: long conversations stay far below the fuel.
    #[test]
    fn fuel_suffices_for_long_conversations() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{% if loop.first and m.role != 'system' %}<|im_start|>system\nHi<|im_end|>\n\
             {% endif %}{{ '<|im_start|>' + m.role + '\n' + m.content.strip() + '<|im_end|>\n' }}{% endfor %}\
             {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
        )
        .unwrap();
        let msgs: Vec<Message> =
            (0..5000).map(|i| if i % 2 == 0 { Message::user("q") } else { Message::assistant("a") }).collect();
        assert!(t.render(&msgs, true, "", "").unwrap().ends_with("<|im_start|>assistant\n"));
    }
}
