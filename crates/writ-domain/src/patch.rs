//! Tri-state fields for PATCH: a property may be absent (leave it), explicitly `null` (clear it) or
//! carry a value (set it), which `Option` alone cannot express.

/// In serde, `null` reads as [`Patch::Null`] and a value as [`Patch::Value`]; an absent property
/// is [`Patch::Absent`] through `#[serde(default)]`, and `skip_serializing_if =
/// "Patch::is_absent"` leaves it out when written.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// The value, if one was given.
    pub fn into_option(self) -> Option<T> {
        match self {
            Patch::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Apply to an optional field.
    pub fn apply_to(self, field: &mut Option<T>) {
        match self {
            Patch::Absent => {}
            Patch::Null => *field = None,
            Patch::Value(v) => *field = Some(v),
        }
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Patch::Null, Patch::Value))
    }
}

impl<T: serde::Serialize> serde::Serialize for Patch<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(v) => v.serialize(serializer),
            Patch::Absent | Patch::Null => serializer.serialize_none(),
        }
    }
}
