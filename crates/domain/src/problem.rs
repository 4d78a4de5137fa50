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

/// The English name of a kind of user or actor (as [`user_kind_zh`]), for messages: "a customs
/// officer may not …". An unknown kind is given back as it is.
pub fn user_kind_en(kind: &str) -> &str {
    match kind {
        "enterprise" => "enterprise",
        "officer" => "customs officer",
        "hq" => "headquarters user",
        "agency" => "partner agency",
        "admin" => "administrator",
        "carrier" => "carrier",
        "postal_operator" => "postal operator",
        "anti_smuggling" => "anti-smuggling officer",
        "bank" => "bank",
        "system" => "system",
        "terminal" => "terminal operator",
        "tally_agency" => "tally agency",
        "passenger" => "passenger",
        other => other,
    }
}

/// A step of the declaration's lifecycle or of cargo control named in words, by its stable
/// snake_case name (`Action::name`, `ManifestAction::name`, `TransitAction::name`): Chinese,
/// then an English verb phrase that reads after "may not" and "cannot". Refusals show these,
/// never the code name (issue 20: "may not record_review"). An unknown name is given back as
/// it is in both.
pub fn action_words(name: &str) -> (&str, &str) {
    match name {
        // The declaration's lifecycle (clearance::Action).
        "submit" => ("提交申报", "submit the declaration"),
        "withdraw" => ("撤回申报", "withdraw the declaration"),
        "accept" => ("接受申报", "accept the declaration"),
        "reject" => ("退单", "reject the declaration"),
        "choose_lane" => ("确定通道", "choose the lane"),
        "order_inspection" => ("布控查验", "order an inspection"),
        "record_review" => ("录入审单结果", "record a document review"),
        "record_inspection" => ("录入查验结果", "record an inspection"),
        "assess" => ("计征税费", "assess duties and taxes"),
        "pay" => ("缴纳税费", "pay duties and taxes"),
        "initiate_payment" => ("发起银行缴款", "start a bank payment"),
        "release_against_guarantee" => ("凭担保放行", "release against a guarantee"),
        "release" => ("放行", "release"),
        "confirm_exit" => ("确认出境", "confirm the exit"),
        "close" => ("结关", "close the declaration"),
        "request_amendment" => ("申请修改", "request an amendment"),
        "request_cancellation" => ("申请撤销", "request a cancellation"),
        "approve_request" => ("批准申请", "approve the request"),
        "refuse_request" => ("驳回申请", "refuse the request"),
        "suspend" => ("挂起（缉私）", "suspend the declaration"),
        "unsuspend" => ("解除挂起", "lift the suspension"),
        "record_version" => ("记录新版本", "record a new version"),
        "request_refund" => ("申请退税", "request a refund"),
        "decide_refund" => ("审批退税", "decide on a refund"),
        // Cargo control (cargo_control::ManifestAction, TransitAction).
        "file" => ("申报舱单", "file the manifest"),
        "amend" => ("修改舱单", "amend the manifest"),
        "report_arrival" => ("申报运抵", "report the arrival"),
        "report_tally" => ("申报理货", "report the tally"),
        "match_declaration" => ("核销提单", "match a declaration to a bill"),
        "unmatch_declaration" => ("撤销提单核销", "undo a bill's match"),
        "write_off" => ("核销舱单", "write off the manifest"),
        "confirm_departure" => ("确认启运", "confirm the departure"),
        "declare" => ("申报转关", "declare the transit"),
        "confirm_arrival" => ("确认到达", "confirm the arrival"),
        "resolve_seal_alert" => ("处理关锁告警", "resolve the seal alert"),
        "clear" => ("转关核销", "clear the transit"),
        "cancel" => ("撤销转关", "cancel the transit"),
        other => (other, other),
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
