//! Debian archives: deb822 paragraphs (`Packages`, `Release`), dpkg version
//! ordering, dependency fields, Release signatures checked with `gpgv`
//! against a keyring the project names, and the members of a `.deb`.

pub mod control;
pub mod deb;
pub mod release;
pub mod version;
