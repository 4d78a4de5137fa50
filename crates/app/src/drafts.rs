//! Drafts of forms kept by the server (issue 20 item 1; [`store::drafts`]): a form being
//! filled is saved as the user types (the web interface autosaves it), so a language switch,
//! a reload or another browser finds it as it was, and nothing of it stays in the browser.
//!
//! A draft is its owner's alone: the signed-in user and, for a user bound to an enterprise
//! (enterprise users, carriers, postal operators), that enterprise. Anyone else asking for it,
//! changing or deleting it is told "not found" (never "forbidden": that would say it exists).
//! Every signed-in user may keep drafts: they are the user's own unfiled work, checked in
//! full only when filed. The bounds are checked here with messages in both languages, and
//! again by the store inside the write.

use serde::Serialize;
use store::drafts::{
    DraftOwner, DraftSummary, DraftWrite, DRAFTS_PER_USER, DRAFT_MAX_BYTES, KINDS, TITLE_MAX,
};
use store::StoreError;

use crate::access::Principal;
use crate::error::{AppError, FieldProblem};
use crate::steps::StepService;

/// A draft with its content, as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DraftView {
    #[serde(flatten)]
    pub summary: DraftSummary,
    /// The form's content as saved (a JSON object).
    pub body: serde_json::Value,
}

/// What a user saves.
#[derive(Clone, Debug, PartialEq)]
pub struct DraftInput {
    pub kind: String,
    pub title: String,
    pub body: serde_json::Value,
    /// For an update: the version the form last saved or read (`Conflict` when the draft was
    /// saved elsewhere since); `None`: the last save wins.
    pub expected_version: Option<u64>,
}

/// Whose drafts the principal works with.
pub fn owner_of(p: &Principal) -> DraftOwner {
    let uscc = match p {
        Principal::Enterprise { uscc, .. }
        | Principal::Carrier { uscc, .. }
        | Principal::PostalOperator { uscc, .. } => Some(*uscc),
        Principal::Officer { .. }
        | Principal::Hq { .. }
        | Principal::Agency { .. }
        | Principal::Admin { .. } => None,
    };
    DraftOwner {
        user_id: p.user_id(),
        uscc,
    }
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("draft {id}"))
}

fn too_many() -> AppError {
    AppError::invalid(
        "draft",
        "too_many_drafts",
        format!("每位用户至多保存 {DRAFTS_PER_USER} 份草稿，请先删除不再需要的草稿"),
        format!("at most {DRAFTS_PER_USER} drafts per user: delete those no longer needed first"),
    )
}

impl StepService<'_> {
    /// The principal's drafts, the most recently saved first, without their content.
    pub fn drafts(&self, principal: &Principal) -> Result<Vec<DraftSummary>, AppError> {
        Ok(self.core.store.drafts(&owner_of(principal))?)
    }

    /// One of the principal's drafts with its content; "not found" for anyone else's.
    pub fn draft(&self, principal: &Principal, id: i64) -> Result<DraftView, AppError> {
        let d = self
            .core
            .store
            .draft(&owner_of(principal), id)?
            .ok_or_else(|| not_found(id))?;
        let body = serde_json::from_str(&d.body)
            .map_err(|e| AppError::Internal(format!("draft {id} body is not JSON: {e}")))?;
        Ok(DraftView {
            summary: d.summary,
            body,
        })
    }

    /// Save a draft: a new one (`id` `None`) or a new content of one of the principal's.
    pub fn save_draft(
        &self,
        principal: &Principal,
        id: Option<i64>,
        input: DraftInput,
    ) -> Result<DraftSummary, AppError> {
        let owner = owner_of(principal);
        let mut problems = Vec::new();
        if !KINDS.contains(&input.kind.as_str()) {
            problems.push(FieldProblem::new(
                "kind",
                "unknown_kind",
                format!("草稿的表单种类须为：{}", KINDS.join("、")),
                format!("a draft's kind of form is one of: {}", KINDS.join(", ")),
            ));
        }
        let title = input.title.trim().to_owned();
        if title.chars().count() > TITLE_MAX || title.chars().any(char::is_control) {
            problems.push(FieldProblem::new(
                "title",
                "bad_title",
                format!("标题至多 {TITLE_MAX} 个字符，不含控制字符"),
                format!("a title is at most {TITLE_MAX} characters, without control characters"),
            ));
        }
        let body = if input.body.is_object() {
            serde_json::to_string(&input.body).unwrap_or_default()
        } else {
            problems.push(FieldProblem::new(
                "body",
                "not_an_object",
                "草稿内容须为 JSON 对象",
                "a draft's content is a JSON object",
            ));
            String::new()
        };
        if body.len() > DRAFT_MAX_BYTES {
            problems.push(FieldProblem::new(
                "body",
                "too_large",
                format!(
                    "草稿内容至多 {} KiB（现为 {} KiB）",
                    DRAFT_MAX_BYTES / 1024,
                    body.len().div_ceil(1024)
                ),
                format!(
                    "a draft's content is at most {} KiB (this one is {} KiB)",
                    DRAFT_MAX_BYTES / 1024,
                    body.len().div_ceil(1024)
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        if id.is_none() && self.core.store.drafts(&owner)?.len() >= DRAFTS_PER_USER {
            return Err(too_many());
        }
        self.core
            .store
            .save_draft(DraftWrite {
                owner,
                id,
                expected_version: input.expected_version,
                kind: input.kind,
                title,
                body,
                now: self.core.now(),
            })
            .map_err(|e| match e {
                StoreError::NotFound(_) => not_found(id.unwrap_or_default()),
                StoreError::Conflict { expected, actual } => AppError::Conflict {
                    code: "draft_conflict",
                    message_zh: format!(
                        "草稿已在别处保存（版本 {expected} → {actual}），请重新打开草稿"
                    ),
                    message_en: format!(
                        "the draft was saved elsewhere meanwhile (version {expected} → {actual}): open it again"
                    ),
                },
                // The bounds above were checked: what is left is the count, raced.
                StoreError::Invalid(_) => too_many(),
                other => other.into(),
            })
    }

    /// Delete one of the principal's drafts; "not found" for anyone else's.
    pub fn delete_draft(&self, principal: &Principal, id: i64) -> Result<(), AppError> {
        if self.core.store.delete_draft(&owner_of(principal), id)? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }
}
