//! Go-style durations as Terraform and the AWS provider write them: "10m", "1h30m", "1.5h",
//! "90s", "500ms". Returns seconds; `None` for anything else.

pub fn parse_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    if text == "0" {
        return Some(0.0);
    }
    let mut rest = text;
    let mut total = 0.0;
    let mut parsed_any = false;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&len| len > 0)?;
        let number: f64 = rest.get(..number_len)?.parse().ok()?;
        rest = rest.get(number_len..)?;
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match rest.get(..unit_len)? {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        rest = rest.get(unit_len..)?;
        total += number * scale;
        parsed_any = true;
    }
    parsed_any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn go_durations_parse_to_seconds() {
        assert_eq!(parse_seconds("10m"), Some(600.0));
        assert_eq!(parse_seconds("1h30m"), Some(5400.0));
        assert_eq!(parse_seconds("1.5h"), Some(5400.0));
        assert_eq!(parse_seconds("0s"), Some(0.0));
        assert_eq!(parse_seconds("0"), Some(0.0));
        assert_eq!(parse_seconds("500ms"), Some(0.5));
        assert_eq!(parse_seconds("10"), None);
        assert_eq!(parse_seconds("ten minutes"), None);
        assert_eq!(parse_seconds(""), None);
    }
}
