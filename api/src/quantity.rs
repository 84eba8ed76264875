//! Resource quantities (`cpus`, `mem`, `disk`) and their exact conversion to
//! Mesos units.
//!
//! A [`Quantity`] is written either as a bare number or as a Kubernetes
//! quantity string (`"250m"`, `"128Mi"`, `"1G"`, `"1e3"`). The two forms
//! mean different things for memory and disk:
//!
//! | written as          | `to_cpus`     | `to_mib`                      |
//! |---------------------|---------------|-------------------------------|
//! | number `0.25`       | 0.25 cores    | 0.25 MiB (the Mesos unit)     |
//! | string `"250m"`     | 0.25 cores    | 0.25 *bytes*, i.e. ~0 MiB     |
//! | string `"128Mi"`    | 128 cores     | 128 MiB                       |
//! | string `"134217728"`| 134217728 cores | 128 MiB (a suffixless string is bytes, as in Kubernetes) |
//!
//! Conversions are exact decimal arithmetic (no floating point error),
//! rounded half-up to three decimals, the precision Mesos keeps for scalar
//! resources. So `"250m"` and `0.25` give the very same `f64`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A resource amount: a bare number or a Kubernetes quantity string.
///
/// A bare number is in Mesos units: cores for `cpus`, MiB for `mem` and
/// `disk`. A string follows Kubernetes: cores for `cpus` (`"250m"`), bytes
/// for `mem` and `disk` unless suffixed (`"128Mi"`, `"1G"`).
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum Quantity {
    /// A bare number: cores for `cpus`, MiB for `mem`/`disk`.
    Number(f64),
    /// A Kubernetes quantity: `<number><suffix>`, suffix one of the binary
    /// (`Ki Mi Gi Ti Pi Ei`) or decimal (`n u m k M G T P E`) SI suffixes, or
    /// an exponent (`e3`, `E-2`).
    String(String),
}

/// A quantity that could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity \"{quantity}\": {reason}")]
pub struct QuantityError {
    /// The quantity as written.
    pub quantity: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Number(n) => write!(f, "{n}"),
            Quantity::String(s) => f.write_str(s),
        }
    }
}

impl From<f64> for Quantity {
    fn from(n: f64) -> Self {
        Quantity::Number(n)
    }
}

impl From<&str> for Quantity {
    fn from(s: &str) -> Self {
        Quantity::String(s.to_string())
    }
}

/// Largest number of thousandths we hand out: beyond 2^53 an `f64` is no
/// longer exact.
const MAX_THOUSANDTHS: u128 = 1 << 53;

impl Quantity {
    /// CPU cores, rounded to three decimals: `0.25`, `"0.25"` and `"250m"`
    /// are all `0.25`; `"2"` is `2.0`.
    pub fn to_cpus(&self) -> Result<f64, QuantityError> {
        self.thousandths(Unit::Cores).map(|t| t as f64 / 1000.0)
    }

    /// Mebibytes, rounded to three decimals. A bare number is already MiB
    /// (`128` is 128 MiB); a string is bytes unless suffixed: `"128Mi"` and
    /// `"134217728"` are 128, `"1Gi"` is 1024, `"1G"` is 953.674.
    pub fn to_mib(&self) -> Result<f64, QuantityError> {
        self.thousandths(Unit::Mebibytes).map(|t| t as f64 / 1000.0)
    }

    /// The value in thousandths of the unit, exactly, rounded half-up.
    pub(crate) fn thousandths(&self, unit: Unit) -> Result<u64, QuantityError> {
        let (text, number) = match self {
            Quantity::Number(n) => {
                if !n.is_finite() {
                    return Err(err(&n.to_string(), "must be a finite number"));
                }
                // `Display` of an f64 is the shortest decimal that round-trips,
                // and never uses exponent notation: exact decimal digits.
                (n.to_string(), true)
            }
            Quantity::String(s) => (s.clone(), false),
        };
        let parsed = parse(&text)?;
        if parsed.negative && parsed.mantissa != 0 {
            return Err(err(&text, "must not be negative"));
        }
        // value = mantissa * 10^pow10 * 2^pow2 in the written unit; scale to
        // thousandths of the target unit, then fold 10^k = 2^k * 5^k so the
        // fraction num/den stays as small as possible.
        let pow10 = parsed.pow10 + 3;
        let mut pow2 = parsed.pow2 + pow10;
        let pow5 = pow10;
        if unit == Unit::Mebibytes && !number {
            // A string is bytes: divide by 2^20. A bare number is MiB already.
            pow2 -= 20;
        }

        let mut num: u128 = parsed.mantissa;
        let mut den: u128 = 1;
        let too_large = || err(&text, "value is too large");
        if !mul_pow(&mut num, 2, pow2.max(0)) || !mul_pow(&mut num, 5, pow5.max(0)) {
            return Err(too_large());
        }
        if !mul_pow(&mut den, 2, (-pow2).max(0)) || !mul_pow(&mut den, 5, (-pow5).max(0)) {
            // The denominator exceeds 2^128 while the numerator is below
            // 2^127: the value is under half a thousandth and rounds to 0.
            return Ok(0);
        }
        let q = num / den;
        let r = num % den;
        let rounded = if r >= den - r { q + 1 } else { q };
        if rounded > MAX_THOUSANDTHS {
            return Err(too_large());
        }
        Ok(rounded as u64)
    }
}

/// The unit a quantity is converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// CPU cores; strings and numbers alike.
    Cores,
    /// MiB; numbers are MiB, strings are bytes.
    Mebibytes,
}

fn err(quantity: &str, reason: impl Into<String>) -> QuantityError {
    QuantityError {
        quantity: quantity.to_string(),
        reason: reason.into(),
    }
}

/// `n *= base^exp`, false on overflow.
fn mul_pow(n: &mut u128, base: u128, exp: i64) -> bool {
    if *n == 0 {
        return true;
    }
    for _ in 0..exp {
        match n.checked_mul(base) {
            Some(v) => *n = v,
            None => return false,
        }
    }
    true
}

/// A parsed quantity: `(-1)^negative * mantissa * 10^pow10 * 2^pow2`.
struct Parsed {
    negative: bool,
    mantissa: u128,
    pow10: i64,
    pow2: i64,
}

/// Parses Kubernetes quantity syntax:
/// `[+-]digits[.digits][suffix]` or `[+-][digits].digits[suffix]`, where
/// suffix is a binary SI suffix, a decimal SI suffix or `e`/`E` followed by
/// a signed integer.
fn parse(s: &str) -> Result<Parsed, QuantityError> {
    if s.is_empty() {
        return Err(err(s, "empty quantity"));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&c) = bytes.first()
        && (c == b'+' || c == b'-')
    {
        negative = c == b'-';
        i = 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &s[int_start..i];
    let mut frac_digits = "";
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &s[frac_start..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(err(
            s,
            "expected a number, optionally followed by a suffix such as m, Mi or G",
        ));
    }
    let suffix = &s[i..];

    // Trailing zeros of the fraction carry no value; dropping them keeps the
    // mantissa small.
    let frac_digits = frac_digits.trim_end_matches('0');
    let mut mantissa: u128 = 0;
    for d in int_digits.bytes().chain(frac_digits.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(d - b'0')))
            .ok_or_else(|| {
                let significant = int_digits.trim_start_matches('0').len();
                err(
                    s,
                    if significant > 30 {
                        "value is too large"
                    } else {
                        "too many digits"
                    },
                )
            })?;
    }
    let mut pow10 = -(frac_digits.len() as i64);
    let mut pow2 = 0;
    match suffix {
        "" => {}
        "Ki" => pow2 = 10,
        "Mi" => pow2 = 20,
        "Gi" => pow2 = 30,
        "Ti" => pow2 = 40,
        "Pi" => pow2 = 50,
        "Ei" => pow2 = 60,
        "n" => pow10 -= 9,
        "u" => pow10 -= 6,
        "m" => pow10 -= 3,
        "k" => pow10 += 3,
        "M" => pow10 += 6,
        "G" => pow10 += 9,
        "T" => pow10 += 12,
        "P" => pow10 += 15,
        "E" => pow10 += 18,
        _ => {
            let exp = suffix
                .strip_prefix(['e', 'E'])
                .filter(|e| is_signed_integer(e))
                .ok_or_else(|| {
                    err(
                        s,
                        format!(
                            "unknown suffix \"{suffix}\" (expected one of Ki, Mi, Gi, Ti, Pi, Ei, \
                             n, u, m, k, M, G, T, P, E, or an exponent such as e3)"
                        ),
                    )
                })?;
            let exp: i64 = exp
                .parse()
                .ok()
                .filter(|e: &i64| e.abs() <= 1000)
                .ok_or_else(|| err(s, "exponent is out of range"))?;
            pow10 += exp;
        }
    }
    Ok(Parsed {
        negative,
        mantissa,
        pow10,
        pow2,
    })
}

fn is_signed_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;

        impl Visitor<'_> for QuantityVisitor {
            type Value = Quantity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a quantity string such as \"250m\" or \"128Mi\"")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::Number(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity::Number(v as f64))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity::Number(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity::String(v.to_string()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Quantity, E> {
                Ok(Quantity::String(v))
            }
        }

        deserializer.deserialize_any(QuantityVisitor)
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number (cores for cpus, MiB for mem and disk) or a Kubernetes \
                            quantity string (\"250m\", \"128Mi\", \"1G\"; a suffixless string \
                            is bytes for mem and disk).",
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": "^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"}
            ],
            "x-kubernetes-int-or-string": true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &str) -> Quantity {
        Quantity::String(v.to_string())
    }

    #[test]
    fn cpus() {
        assert_eq!(Quantity::Number(0.25).to_cpus(), Ok(0.25));
        assert_eq!(s("0.25").to_cpus(), Ok(0.25));
        assert_eq!(s("250m").to_cpus(), Ok(0.25));
        assert_eq!(s("2").to_cpus(), Ok(2.0));
        assert_eq!(Quantity::Number(2.0).to_cpus(), Ok(2.0));
        assert_eq!(s("1500m").to_cpus(), Ok(1.5));
        assert_eq!(s("1e-1").to_cpus(), Ok(0.1));
        assert_eq!(s(".5").to_cpus(), Ok(0.5));
        assert_eq!(s("5.").to_cpus(), Ok(5.0));
        assert_eq!(s("+1").to_cpus(), Ok(1.0));
        assert_eq!(s("1k").to_cpus(), Ok(1000.0));
        assert_eq!(s("100u").to_cpus(), Ok(0.0));
        assert_eq!(s("500u").to_cpus(), Ok(0.001)); // half-up
        assert_eq!(s("-0").to_cpus(), Ok(0.0));
        // Exact: no binary floating point error on the way.
        assert_eq!(s("0.1").to_cpus(), Ok(0.1));
        assert_eq!(s("300m").to_cpus(), Ok(0.3));
        assert_eq!(Quantity::Number(1.0005).to_cpus(), Ok(1.001));
        assert_eq!(s("1.0005").to_cpus(), Ok(1.001));
        assert_eq!(s("0.0004").to_cpus(), Ok(0.0));
    }

    #[test]
    fn mib() {
        assert_eq!(Quantity::Number(128.0).to_mib(), Ok(128.0));
        assert_eq!(s("128Mi").to_mib(), Ok(128.0));
        assert_eq!(s("1Gi").to_mib(), Ok(1024.0));
        assert_eq!(s("0.5Gi").to_mib(), Ok(512.0));
        assert_eq!(s("1Ti").to_mib(), Ok(1048576.0));
        assert_eq!(s("1Ki").to_mib(), Ok(0.001));
        assert_eq!(s("1k").to_mib(), Ok(0.001));
        assert_eq!(s("1M").to_mib(), Ok(0.954));
        assert_eq!(s("1G").to_mib(), Ok(953.674));
        assert_eq!(s("134217728").to_mib(), Ok(128.0));
        assert_eq!(s("0").to_mib(), Ok(0.0));
        assert_eq!(s("1Ei").to_mib(), Ok(1_099_511_627_776.0));
        assert_eq!(s("1e9").to_mib(), Ok(953.674));
        assert_eq!(s("1E").to_mib(), Ok(953_674_316_406.25));
    }

    #[test]
    fn errors() {
        let e = s("12Qi").to_mib().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid quantity \"12Qi\": unknown suffix \"Qi\""),
            "{e}"
        );
        assert_eq!(
            s("-1").to_cpus().unwrap_err().to_string(),
            "invalid quantity \"-1\": must not be negative"
        );
        assert_eq!(
            s("").to_cpus().unwrap_err().to_string(),
            "invalid quantity \"\": empty quantity"
        );
        assert!(s("abc").to_cpus().is_err());
        assert!(s(".").to_cpus().is_err());
        assert!(s("1 Mi").to_mib().is_err());
        assert!(s(" 1").to_mib().is_err());
        assert!(s("1e").to_mib().is_err());
        assert!(s("1e99999").to_mib().is_err());
        assert!(s("1e1000").to_mib().is_err());
        assert!(Quantity::Number(f64::NAN).to_cpus().is_err());
        assert!(Quantity::Number(f64::INFINITY).to_mib().is_err());
        assert!(Quantity::Number(-0.5).to_mib().is_err());
        assert!(Quantity::Number(1e300).to_mib().is_err());
        assert!(s("99999999999999999999999999999999999999999").to_cpus().is_err());
        assert_eq!(Quantity::Number(1e-300).to_mib(), Ok(0.0));
        assert_eq!(s("1e-1000").to_mib(), Ok(0.0));
    }

    #[test]
    fn deserializes_numbers_and_strings() {
        let q: Vec<Quantity> = serde_yaml::from_str("[1, 0.25, \"250m\", 128Mi]").unwrap();
        assert_eq!(
            q,
            vec![Quantity::Number(1.0), Quantity::Number(0.25), s("250m"), s("128Mi")]
        );
        let e = serde_yaml::from_str::<Quantity>("true").unwrap_err();
        assert!(e.to_string().contains("a number or a quantity string"), "{e}");
        assert_eq!(serde_json::to_string(&q).unwrap(), r#"[1.0,0.25,"250m","128Mi"]"#);
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = s(&text).to_cpus();
            let _ = s(&text).to_mib();
        }

        #[test]
        fn number_and_string_agree_for_cpus(milli in 0u64..10_000_000) {
            let n = milli as f64 / 1000.0;
            prop_assert_eq!(Quantity::Number(n).to_cpus(), Ok(n));
            prop_assert_eq!(s(&format!("{milli}m")).to_cpus(), Ok(n));
        }

        #[test]
        fn mebibyte_suffix_matches_number(mib in 0u64..10_000_000) {
            prop_assert_eq!(s(&format!("{mib}Mi")).to_mib(), Ok(mib as f64));
            prop_assert_eq!(Quantity::Number(mib as f64).to_mib(), Ok(mib as f64));
        }

        #[test]
        fn arbitrary_floats_never_panic(f in proptest::num::f64::ANY) {
            let _ = Quantity::Number(f).to_cpus();
            let _ = Quantity::Number(f).to_mib();
        }
    }
}
