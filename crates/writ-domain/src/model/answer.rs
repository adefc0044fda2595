//! Answers to a policy's questions, as recorded on a request.

use serde::{Deserialize, Serialize};

pub const TEXT_QUESTION_TYPE: &str = "#microsoft.graph.accessPackageTextInputQuestion";
pub const CHOICE_QUESTION_TYPE: &str = "#microsoft.graph.accessPackageMultipleChoiceQuestion";

/// One answer, as recorded on the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub question_id: String,
    /// The question's `@odata.type`, so the answer renders its `answeredQuestion` faithfully.
    #[serde(default)]
    pub question_type: String,
    /// The text, or the chosen `actualValue`.
    pub value: String,
    pub display_value: Option<String>,
}
