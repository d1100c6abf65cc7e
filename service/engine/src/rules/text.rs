//! Values as people read them in messages: strings as is, lists joined, numbers grouped.

/// Human rendering: strings as is, lists joined with ", ".
pub fn render_value(v: &cel::Value, out: &mut String) {
    use cel::Value as V;
    match v {
        V::String(s) => out.push_str(s),
        V::Int(i) => out.push_str(&group_thousands(*i)),
        V::UInt(u) => out.push_str(&u.to_string()),
        V::Float(f) => out.push_str(&format_float(*f)),
        V::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
        V::Null => out.push_str("none"),
        V::List(items) => {
            if items.is_empty() {
                out.push_str("none");
            }
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_value(x, out);
            }
        }
        other => out.push_str(&super::celval::cel_to_json(other).to_string()),
    }
}

pub fn group_thousands(i: i64) -> String {
    let s = i.unsigned_abs().to_string();
    let mut out = String::new();
    for (n, ch) in s.chars().enumerate() {
        if n > 0 && (s.len() - n).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if i < 0 { format!("-{out}") } else { out }
}

pub fn format_float(f: f64) -> String {
    if f != 0.0 && (f.abs() >= 1e9 || f.abs() < 1e-3) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}
