//! A tenant's own brand over its built-in theme: colours, corner radius,
//! font and logo. Checked once here, where it comes in, because every value
//! ends up inside the Mini App's CSS and HTML.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::Theme;

/// Largest logo, decoded: small enough to inline in every page.
pub const MAX_LOGO_BYTES: usize = 32 * 1024;
/// Largest corner radius, in CSS pixels.
pub const MAX_RADIUS: u8 = 32;

/// Overrides of a theme's tokens; `None` keeps the theme's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius: Option<u8>,
    /// A CSS font family list (`"Inter", Arial, sans-serif`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font: Option<String>,
    /// A `data:image/png|jpeg|webp;base64,…` URL: the page may load nothing
    /// from outside our server, so the logo travels inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

/// Why a brand was refused: the field and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct BrandingError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> BrandingError {
    BrandingError { field, message: message.into() }
}

/// `#rrggbb`, lowercased.
fn color(field: &'static str, v: &str) -> Result<String, BrandingError> {
    let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        return Err(refuse(field, format!("must be a colour like #1f6feb (got {v:?})")));
    }
    Ok(v.to_ascii_lowercase())
}

/// Family names, quoted names, commas and spaces only: nothing that could
/// end the CSS declaration it is placed in.
fn font(v: &str) -> Result<String, BrandingError> {
    let v = v.trim();
    let ok = !v.is_empty() && v.chars().count() <= 100 && v.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | ',' | '-' | '\'' | '"'));
    if !ok {
        return Err(refuse("font", "must be a font family list of at most 100 letters, digits, spaces, commas, hyphens and quotes"));
    }
    Ok(v.to_owned())
}

/// The image's real type, read from its first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn logo(v: &str) -> Result<String, BrandingError> {
    let (head, data) = v.split_once(',').ok_or_else(|| refuse("logo", "must be a data: URL (data:image/png;base64,…)"))?;
    let declared = head
        .strip_prefix("data:")
        .and_then(|h| h.strip_suffix(";base64"))
        .ok_or_else(|| refuse("logo", "must be a base64 data: URL (data:image/png;base64,…)"))?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|_| refuse("logo", "is not valid base64"))?;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(refuse("logo", format!("is {} bytes; at most {MAX_LOGO_BYTES}", bytes.len())));
    }
    // Judged by its bytes, not by what it says it is (an SVG can carry script).
    let real = image_type(&bytes).ok_or_else(|| refuse("logo", "must be a PNG, JPEG or WebP image"))?;
    if declared != real {
        return Err(refuse("logo", format!("says {declared} but is {real}")));
    }
    Ok(format!("data:{real};base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes)))
}

impl Branding {
    /// The brand with every value checked and normalised.
    pub fn validated(self) -> Result<Branding, BrandingError> {
        Ok(Branding {
            primary_color: self.primary_color.as_deref().map(|v| color("primary_color", v)).transpose()?,
            accent_color: self.accent_color.as_deref().map(|v| color("accent_color", v)).transpose()?,
            radius: match self.radius {
                Some(r) if r > MAX_RADIUS => return Err(refuse("radius", format!("must be 0 to {MAX_RADIUS} pixels"))),
                r => r,
            },
            font: self.font.as_deref().map(font).transpose()?,
            logo: self.logo.as_deref().map(logo).transpose()?,
        })
    }

    /// Reads a stored brand; one that no longer passes is dropped whole
    /// (the built-in theme shows) rather than served half-checked.
    pub fn from_stored(stored: Option<&str>) -> Branding {
        stored
            .and_then(|s| serde_json::from_str::<Branding>(s).ok())
            .and_then(|b| b.validated().ok())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        *self == Branding::default()
    }

    /// The logo's type and bytes (it was checked when it was set).
    pub fn logo_image(&self) -> Option<(&'static str, Vec<u8>)> {
        let (_, data) = self.logo.as_deref()?.split_once(',')?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
        Some((image_type(&bytes)?, bytes))
    }

    /// Changes whenever the logo does (FNV-1a), for a cacheable URL.
    pub fn logo_version(&self) -> Option<String> {
        let logo = self.logo.as_deref()?;
        let h = logo.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        Some(format!("{h:016x}"))
    }
}

/// A theme's tokens with a brand over them: what pages are styled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub theme: &'static str,
    pub primary_color: String,
    pub accent_color: String,
    pub radius: u8,
    /// Empty: the platform's (Telegram's) own font.
    pub font: String,
    pub logo: Option<String>,
}

impl Theme {
    pub fn tokens(&self, brand: &Branding) -> Tokens {
        Tokens {
            theme: self.name,
            primary_color: brand.primary_color.clone().unwrap_or_else(|| self.primary_color.to_owned()),
            accent_color: brand.accent_color.clone().unwrap_or_else(|| self.accent_color.to_owned()),
            radius: brand.radius.unwrap_or(self.radius),
            font: brand.font.clone().unwrap_or_else(|| self.font.to_owned()),
            logo: brand.logo.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

    #[test]
    fn good_values_are_normalised_and_override_the_theme() {
        let b = Branding {
            primary_color: Some("#AABBCC".into()),
            radius: Some(4),
            font: Some("\"Inter\", Arial, sans-serif".into()),
            logo: Some(format!("data:image/png;base64,{PNG_1X1}")),
            ..Branding::default()
        }
        .validated()
        .unwrap();
        assert_eq!(b.primary_color.as_deref(), Some("#aabbcc"));
        let t = Theme::parse("sunrise").unwrap().tokens(&b);
        assert_eq!((t.primary_color.as_str(), t.accent_color.as_str(), t.radius), ("#aabbcc", "#2b8a3e", 4), "unset tokens keep the theme's");
        assert!(t.logo.unwrap().starts_with("data:image/png;base64,iVBOR"));
    }

    #[test]
    fn anything_that_could_break_out_of_css_or_html_is_refused() {
        let bad = |b: Branding| b.validated().unwrap_err().field;
        assert_eq!(bad(Branding { primary_color: Some("red".into()), ..Default::default() }), "primary_color");
        assert_eq!(bad(Branding { accent_color: Some("#12345;".into()), ..Default::default() }), "accent_color");
        assert_eq!(bad(Branding { radius: Some(33), ..Default::default() }), "radius");
        assert_eq!(bad(Branding { font: Some("Arial;}body{display:none".into()), ..Default::default() }), "font");
        assert_eq!(bad(Branding { font: Some("x</style>".into()), ..Default::default() }), "font");
        let svg = base64::engine::general_purpose::STANDARD.encode("<svg onload=alert(1)></svg>");
        assert_eq!(bad(Branding { logo: Some(format!("data:image/svg+xml;base64,{svg}")), ..Default::default() }), "logo");
        assert_eq!(bad(Branding { logo: Some(format!("data:image/png;base64,{svg}")), ..Default::default() }), "logo", "a PNG by name only");
        assert_eq!(bad(Branding { logo: Some(format!("data:image/jpeg;base64,{PNG_1X1}")), ..Default::default() }), "logo", "type mismatch");
        assert_eq!(bad(Branding { logo: Some("https://cdn.example.com/logo.png".into()), ..Default::default() }), "logo");
        let big = base64::engine::general_purpose::STANDARD.encode([&b"\x89PNG\r\n\x1a\n"[..], &vec![0u8; MAX_LOGO_BYTES]].concat());
        assert_eq!(bad(Branding { logo: Some(format!("data:image/png;base64,{big}")), ..Default::default() }), "logo");
    }

    #[test]
    fn a_stored_brand_that_no_longer_passes_is_dropped() {
        assert_eq!(Branding::from_stored(Some(r##"{"primary_color":"#112233"}"##)).primary_color.as_deref(), Some("#112233"));
        assert!(Branding::from_stored(Some(r#"{"primary_color":"red"}"#)).is_empty());
        assert!(Branding::from_stored(Some("not json")).is_empty());
        assert!(Branding::from_stored(None).is_empty());
    }
}
