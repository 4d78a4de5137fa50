//! Documents attached to a declaration (issue 20): uploaded by the declarant (or its broker
//! under a live power of attorney) or by an officer who sees the declaration
//! (`Operation::Attach`), listed and downloaded by whoever may see it (`Operation::View`); a
//! declaration one may not see is "not found", its documents too. The bounds are checked here
//! with messages in both languages, and again by the store.

use store::attachments::{
    NewAttachment, StoredAttachment, ALLOWED_TYPES, ATTACHMENTS_PER_DECLARATION,
    ATTACHMENT_MAX_BYTES, NAME_MAX,
};
use store::{DeclarationKey, StoreError};

use crate::access::Operation;
use crate::access::Principal;
use crate::error::{AppError, FieldProblem};
use crate::kernel::internal;
use crate::steps::StepService;

impl StepService<'_> {
    /// Attach a document: the checks, then the store's one write (with its audit record).
    pub fn attach(
        &self,
        principal: &Principal,
        key: DeclarationKey,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<StoredAttachment, AppError> {
        let d = self.load_visible_pub(principal, key)?;
        let header = d
            .state
            .header
            .as_ref()
            .ok_or_else(|| internal("no header"))?;
        let resource = self.attorney.resource_for(principal, header)?;
        let allowed = self
            .core
            .authorize(principal, (Operation::Attach, resource))?;
        let mut problems = Vec::new();
        let name = name.trim();
        let n = name.chars().count();
        if n == 0
            || n > NAME_MAX
            || name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            problems.push(FieldProblem::new(
                "name",
                "bad_name",
                format!("文件名须为 1 至 {NAME_MAX} 个字符，不含控制字符或斜杠"),
                format!("a file name is 1 to {NAME_MAX} characters, without control characters or slashes"),
            ));
        }
        if !ALLOWED_TYPES.contains(&content_type) {
            problems.push(FieldProblem::new(
                "content_type",
                "type_not_allowed",
                format!("不接受此类文件（{content_type}）：可上传 PDF、PNG、JPEG 或 XML"),
                format!(
                    "this kind of file ({content_type}) is not accepted: PDF, PNG, JPEG or XML"
                ),
            ));
        }
        if data.is_empty() {
            problems.push(FieldProblem::new(
                "file",
                "empty",
                "文件为空",
                "the file is empty",
            ));
        }
        if data.len() > ATTACHMENT_MAX_BYTES {
            problems.push(FieldProblem::new(
                "file",
                "too_large",
                format!("文件至多 {} MB", ATTACHMENT_MAX_BYTES / 1024 / 1024),
                format!(
                    "a file is at most {} MB",
                    ATTACHMENT_MAX_BYTES / 1024 / 1024
                ),
            ));
        }
        if self.core.store.attachments(d.id)?.len() >= ATTACHMENTS_PER_DECLARATION {
            problems.push(FieldProblem::new(
                "file",
                "too_many",
                format!("一份报关单至多附 {ATTACHMENTS_PER_DECLARATION} 个文件"),
                format!("at most {ATTACHMENTS_PER_DECLARATION} documents on a declaration"),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let actor = allowed.audit_actor();
        self.core
            .store
            .add_attachment(
                NewAttachment {
                    declaration_id: d.id,
                    name: name.to_owned(),
                    content_type: content_type.to_owned(),
                    data,
                },
                &actor,
                self.core.now(),
            )
            .map_err(|e| match e {
                // A race past the count above.
                StoreError::Invalid(why) => AppError::invalid("file", "invalid", why.clone(), why),
                other => other.into(),
            })
    }

    /// The documents of a declaration the principal may see.
    pub fn attachments(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<Vec<StoredAttachment>, AppError> {
        let d = self.load_visible_pub(principal, key)?;
        Ok(self.core.store.attachments(d.id)?)
    }

    /// One document with its bytes, of a declaration the principal may see.
    pub fn attachment(
        &self,
        principal: &Principal,
        key: DeclarationKey,
        attachment_id: i64,
    ) -> Result<(StoredAttachment, Vec<u8>), AppError> {
        let d = self.load_visible_pub(principal, key)?;
        self.core
            .store
            .attachment(d.id, attachment_id)?
            .ok_or_else(|| AppError::NotFound("attachment".into()))
    }
}
