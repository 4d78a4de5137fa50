//! One problem found in an input: where (a field path such as `items[3].commodity_code`), what
//! (a stable code for machines) and why (a message in Chinese and in English).

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// JSON path of the field, `items[2].unit_price`; empty for the document as a whole.
    pub field: String,
    /// Stable, snake_case; safe to match on.
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

impl Problem {
    pub fn new(
        field: impl Into<String>,
        code: &'static str,
        message_zh: impl Into<String>,
        message_en: impl Into<String>,
    ) -> Problem {
        Problem {
            field: field.into(),
            code,
            message_zh: message_zh.into(),
            message_en: message_en.into(),
        }
    }
}

/// Problems collected in one pass, in the order found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Problems already collected elsewhere (a parser's list, a test's expectation), kept in
    /// their order.
    pub fn from_vec(problems: Vec<Problem>) -> Problems {
        Problems(problems)
    }
    pub fn as_slice(&self) -> &[Problem] {
        &self.0
    }
    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }
    pub fn first(&self) -> Option<&Problem> {
        self.0.first()
    }
    pub fn push(&mut self, p: Problem) {
        self.0.push(p);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }
    pub fn codes(&self) -> Vec<&'static str> {
        self.0.iter().map(|p| p.code).collect()
    }
}

impl From<Vec<Problem>> for Problems {
    fn from(problems: Vec<Problem>) -> Problems {
        Problems(problems)
    }
}

impl Extend<Problem> for Problems {
    fn extend<I: IntoIterator<Item = Problem>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Problems {
    type Item = &'a Problem;
    type IntoIter = std::slice::Iter<'a, Problem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.0 {
            writeln!(
                f,
                "{} [{}] {} / {}",
                p.field, p.code, p.message_zh, p.message_en
            )?;
        }
        Ok(())
    }
}

/// The Chinese name of a kind of user or actor (the stable snake_case kinds of the
/// lifecycle's, cargo control's and the service's principals), for messages in Chinese; an
/// unknown kind is given back as it is.
pub fn user_kind_zh(kind: &str) -> &str {
    match kind {
        "enterprise" => "企业",
        "officer" => "海关关员",
        "hq" => "海关总署",
        "agency" => "协作部门",
        "admin" => "系统管理员",
        "carrier" => "承运人",
        "postal_operator" => "邮政企业",
        "anti_smuggling" => "缉私",
        "bank" => "银行",
        "system" => "系统",
        "terminal" => "码头场站",
        "tally_agency" => "理货机构",
        "passenger" => "旅客",
        other => other,
    }
}

#[cfg(test)]
mod kind_tests {
    #[test]
    fn every_kind_has_a_chinese_name() {
        for k in [
            "enterprise",
            "officer",
            "hq",
            "agency",
            "admin",
            "carrier",
            "postal_operator",
            "anti_smuggling",
            "bank",
            "system",
            "terminal",
            "tally_agency",
            "passenger",
        ] {
            assert!(!super::user_kind_zh(k).is_ascii(), "{k}");
        }
    }
}
