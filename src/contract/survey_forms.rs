//! The project's survey templates as the checker sees them: each form's name and the `ref`s of
//! its fields, read from disk when the project loads (the checker reads no files).

/// Field refs by survey template, sorted by template name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SurveyForms {
    forms: Vec<(String, Vec<String>)>,
}

impl SurveyForms {
    /// `forms` as (template name, field refs) pairs.
    pub fn new(mut forms: Vec<(String, Vec<String>)>) -> SurveyForms {
        forms.sort();
        SurveyForms { forms }
    }

    /// Whether there are no forms (nothing to check refs against).
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Whether some form has a field with ref `wanted`.
    pub fn has_ref(&self, wanted: &str) -> bool {
        self.forms
            .iter()
            .any(|(_, refs)| refs.iter().any(|r| r == wanted))
    }

    /// Every ref of every form.
    pub fn refs(&self) -> impl Iterator<Item = &str> {
        self.forms
            .iter()
            .flat_map(|(_, refs)| refs.iter().map(String::as_str))
    }

    /// The forms' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.forms.iter().map(|(name, _)| name.as_str())
    }
}
