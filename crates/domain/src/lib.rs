//! Business rules with no I/O: plans and prices, the public voice and avatar catalogues,
//! and the validation of create requests (api.md §3–§4). The API and `peakreel render`
//! both call these functions, so a request is judged the same way everywhere.

pub mod catalog_requests;
pub mod inputs;
pub mod json;
mod json_strict;
pub mod legacy;
pub mod plans;
pub mod request;
pub mod upload_ref;
pub mod voice_choice;
pub mod voice_traits;
pub mod voices;
pub mod writing_systems;

pub use inputs::{resolve_orientation, StoredMedia, TaskInputs, TaskSpec};
pub use plans::{Plan, PlanTable, Prices};
pub use request::{
    parse_create_request, CreateRequest, ElementsConfig, FontFamily, ImageInput, ModificationMode,
    OrchestrationMode, Orientation, Position, RequestKind, RoomType, SubtitlePreset, TestScenario,
    TextOverlay, UrlPolicy, Watermark,
};
pub use voice_choice::{VoiceAttributes, VoiceCandidate};
