//! Copy from a previous declaration (issue 20): the form of a declaration the principal may
//! see, as the filing form holds it (`domain::form_of`), to start a new filing from. The new
//! filing gets its own client sequence number in the browser; nothing is written here.

use domain::declaration::Declaration;
use store::DeclarationKey;

use crate::access::Principal;
use crate::error::AppError;
use crate::steps::StepService;

impl StepService<'_> {
    /// The declaration's current form (its latest version), or the body as filed for one that
    /// automatic review rejected (which never became a typed declaration).
    pub fn form_to_copy(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<serde_json::Value, AppError> {
        let d = self.load_visible_pub(principal, key)?;
        let typed = serde_json::from_str::<Declaration>(&d.body_json).ok();
        crate::steps::form_value(typed.as_ref(), &d.body_json)
    }
}
