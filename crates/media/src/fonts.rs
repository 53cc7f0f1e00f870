//! The fonts of api.md §8.4, mapped to font files installed from Debian packages.
//!
//! Montserrat, Poppins, Playfair Display and Merriweather are not packaged in Debian main,
//! so each maps to the closest installed family (see [`FontFamily::substitute`]).

use std::path::{Path, PathBuf};

use crate::RenderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FontFamily {
    Inter,
    Roboto,
    OpenSans,
    Montserrat,
    Lato,
    Poppins,
    PlayfairDisplay,
    Merriweather,
}

impl FontFamily {
    pub const ALL: [FontFamily; 8] = [
        FontFamily::Inter,
        FontFamily::Roboto,
        FontFamily::OpenSans,
        FontFamily::Montserrat,
        FontFamily::Lato,
        FontFamily::Poppins,
        FontFamily::PlayfairDisplay,
        FontFamily::Merriweather,
    ];

    /// The wire name (api.md spelling).
    pub fn name(self) -> &'static str {
        match self {
            FontFamily::Inter => "Inter",
            FontFamily::Roboto => "Roboto",
            FontFamily::OpenSans => "Open Sans",
            FontFamily::Montserrat => "Montserrat",
            FontFamily::Lato => "Lato",
            FontFamily::Poppins => "Poppins",
            FontFamily::PlayfairDisplay => "Playfair Display",
            FontFamily::Merriweather => "Merriweather",
        }
    }

    pub fn from_name(name: &str) -> Option<FontFamily> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The installed family actually drawn, when it is not the requested one.
    /// - Montserrat (wide geometric sans) → Noto Sans Display
    /// - Poppins (round geometric sans) → Lato
    /// - Playfair Display (high-contrast display serif) → Noto Serif Display
    /// - Merriweather (sturdy text serif) → Noto Serif
    pub fn substitute(self) -> Option<&'static str> {
        match self {
            FontFamily::Montserrat => Some("Noto Sans Display"),
            FontFamily::Poppins => Some("Lato"),
            FontFamily::PlayfairDisplay => Some("Noto Serif Display"),
            FontFamily::Merriweather => Some("Noto Serif"),
            _ => None,
        }
    }

    /// The family name fontconfig (and so libass) knows the drawn font by.
    pub fn installed_family(self) -> &'static str {
        self.substitute().unwrap_or(self.name())
    }

    /// Path of the font file (regular or bold) under the Debian package layout.
    pub fn file(self, bold: bool) -> PathBuf {
        let (dir, regular, heavy) = match self {
            FontFamily::Inter => ("opentype/inter", "Inter-Regular.otf", "Inter-Bold.otf"),
            FontFamily::Roboto => (
                "truetype/roboto/unhinted/RobotoTTF",
                "Roboto-Regular.ttf",
                "Roboto-Bold.ttf",
            ),
            FontFamily::OpenSans => (
                "truetype/open-sans",
                "OpenSans-Regular.ttf",
                "OpenSans-Bold.ttf",
            ),
            FontFamily::Lato | FontFamily::Poppins => {
                ("truetype/lato", "Lato-Regular.ttf", "Lato-Bold.ttf")
            }
            FontFamily::Montserrat => (
                "truetype/noto",
                "NotoSansDisplay-Regular.ttf",
                "NotoSansDisplay-Bold.ttf",
            ),
            FontFamily::PlayfairDisplay => (
                "truetype/noto",
                "NotoSerifDisplay-Regular.ttf",
                "NotoSerifDisplay-Bold.ttf",
            ),
            FontFamily::Merriweather => (
                "truetype/noto",
                "NotoSerif-Regular.ttf",
                "NotoSerif-Bold.ttf",
            ),
        };
        Path::new(FONT_ROOT)
            .join(dir)
            .join(if bold { heavy } else { regular })
    }
}

pub const FONT_ROOT: &str = "/usr/share/fonts";

impl FontFamily {
    /// `Ok` when the font file of [`FontFamily::file`] is installed, else
    /// [`RenderError::MissingFont`] (a setup fault, retried as infrastructure).
    pub(crate) fn require(self, bold: bool) -> Result<(), RenderError> {
        let path = self.file(bold);
        if path.is_file() {
            Ok(())
        } else {
            Err(RenderError::MissingFont {
                family: self.name().to_string(),
                path,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_none() {
        for f in FontFamily::ALL {
            assert_eq!(FontFamily::from_name(f.name()), Some(f));
        }
        assert_eq!(FontFamily::from_name("Comic Sans"), None);
    }

    /// Fails on a machine without the Debian font packages: they are a setup requirement.
    #[test]
    fn every_mapped_font_file_is_installed() {
        for f in FontFamily::ALL {
            for bold in [false, true] {
                let p = f.file(bold);
                assert!(p.is_file(), "{} needs {}", f.name(), p.display());
            }
        }
    }
}
