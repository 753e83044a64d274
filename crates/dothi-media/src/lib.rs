//! Validation, metadata stripping and thumbnailing of citizen-submitted photos.
//!
//! Photos attached to street-problem reports are published. Phone cameras embed
//! EXIF metadata — GPS coordinates, capture time, device make/model and serial
//! numbers — plus XMP packets, comments and IPTC records. Under Vietnam's
//! personal-data protection decree (Nghị định 13/2023/NĐ-CP) a reporter's precise
//! location (often their home) is personal data: a published photo must not leak
//! where the reporter stood, nor anything else about them that they did not
//! knowingly share. The report's own location is what the citizen chose to
//! disclose; the camera's GPS tag is not.
//!
//! [`process_photo`] therefore:
//!
//! 1. rejects empty and oversized uploads before looking at their contents;
//! 2. identifies the format from magic bytes only ([`sniff`]) — a client-declared
//!    content type or file name is never trusted;
//! 3. reads the EXIF orientation (tag 0x0112), then removes every metadata
//!    segment/chunk with `img-parts`, keeping the coded image data byte for byte
//!    (JPEG is never re-encoded, so there is no generation loss);
//! 4. reads the dimensions from the image header and refuses decompression bombs
//!    before allocating any pixel buffer;
//! 5. fully decodes the *stripped* bytes (so what is published is known to decode)
//!    and renders an upright JPEG thumbnail that carries no metadata.
//!
//! The EXIF orientation tag goes with the rest of the EXIF data, so a photo the
//! camera stored sideways is turned upright by re-encoding its pixels (the only case
//! where a JPEG is re-encoded); [`ProcessedPhoto::exif_orientation`] records what
//! the camera had asked for.

use std::fmt;
use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use img_parts::jpeg::{markers, Jpeg, JpegSegment};
use img_parts::png::Png;
use img_parts::webp::WebP;
use img_parts::{Bytes, ImageEXIF};

#[cfg(test)]
mod tests;

/// An accepted photo format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    WebP,
}

impl PhotoFormat {
    /// The IANA media type, e.g. `image/jpeg`.
    pub fn content_type(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
            PhotoFormat::WebP => "image/webp",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpg",
            PhotoFormat::Png => "png",
            PhotoFormat::WebP => "webp",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            PhotoFormat::Jpeg => ImageFormat::Jpeg,
            PhotoFormat::Png => ImageFormat::Png,
            PhotoFormat::WebP => ImageFormat::WebP,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "JPEG",
            PhotoFormat::Png => "PNG",
            PhotoFormat::WebP => "WebP",
        }
    }
}

impl fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Identifies the format from its magic bytes only.
///
/// A client-declared content type or file name is never consulted: a text file
/// renamed `photo.jpg` is `None`.
pub fn sniff(bytes: &[u8]) -> Option<PhotoFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(PhotoFormat::Jpeg)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(PhotoFormat::Png)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(PhotoFormat::WebP)
    } else {
        None
    }
}

/// Resource limits applied to an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted upload, in bytes (checked before anything is parsed).
    pub max_bytes: usize,
    /// Largest accepted width × height (checked from the header, before decoding).
    pub max_pixels: u64,
    /// Longest edge of the generated thumbnail, in pixels.
    pub thumbnail_edge: u32,
}

impl Limits {
    /// 10 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;
    /// 40 megapixels.
    pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;
    /// 320 px.
    pub const DEFAULT_THUMBNAIL_EDGE: u32 = 320;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_pixels: Self::DEFAULT_MAX_PIXELS,
            thumbnail_edge: Self::DEFAULT_THUMBNAIL_EDGE,
        }
    }
}

/// A validated photo, safe to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessedPhoto {
    pub format: PhotoFormat,
    /// `format.content_type()`.
    pub content_type: &'static str,
    /// The photo with EXIF (incl. GPS), XMP, IPTC, comments and other
    /// non-rendering metadata removed; the coded image data is unchanged.
    pub bytes: Vec<u8>,
    /// Width of `bytes` as stored (before any EXIF orientation).
    pub width: u32,
    /// Height of `bytes` as stored (before any EXIF orientation).
    pub height: u32,
    /// JPEG thumbnail, longest edge ≤ `Limits::thumbnail_edge`, upright
    /// (EXIF orientation applied), without metadata.
    pub thumbnail: Vec<u8>,
    /// The EXIF orientation (1–8) the upload declared, 1 when it declared none.
    /// `bytes` no longer carries it; `thumbnail` already has it applied.
    pub exif_orientation: u8,
}

/// Why a photo was rejected. The `Display` text is meant for API clients.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error("photo is {size} bytes; the limit is {max_bytes} bytes")]
    TooLarge { size: usize, max_bytes: usize },
    #[error("photo is empty (0 bytes)")]
    Empty,
    #[error("unsupported image type: only JPEG, PNG and WebP are accepted")]
    UnsupportedType,
    #[error("photo could not be decoded: {0}")]
    Corrupt(String),
    #[error(
        "photo is {width}x{height} pixels ({} pixels); the limit is {max_pixels} pixels",
        u64::from(*width) * u64::from(*height)
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
}

fn corrupt(format: PhotoFormat, what: impl fmt::Display) -> MediaError {
    MediaError::Corrupt(format!(
        "the {format} data is damaged or incomplete ({what})"
    ))
}

fn container_error(format: PhotoFormat, err: img_parts::Error) -> MediaError {
    let what = match err {
        img_parts::Error::WrongSignature => "its signature is not valid",
        img_parts::Error::BadCRC => "a checksum does not match",
        img_parts::Error::Truncated => "the file ends too early",
    };
    corrupt(format, what)
}

/// Validates an upload, strips its metadata and renders a thumbnail.
pub fn process_photo(bytes: &[u8], limits: &Limits) -> Result<ProcessedPhoto, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(MediaError::TooLarge {
            size: bytes.len(),
            max_bytes: limits.max_bytes,
        });
    }
    let format = sniff(bytes).ok_or(MediaError::UnsupportedType)?;

    let (stripped, exif) = match format {
        PhotoFormat::Jpeg => strip_jpeg(bytes)?,
        PhotoFormat::Png => strip_png(bytes)?,
        PhotoFormat::WebP => strip_webp(bytes)?,
    };
    let orientation = exif
        .as_deref()
        .and_then(orientation_from_exif)
        .unwrap_or(Orientation::NoTransforms);

    let image = decode_checked(&stripped, format, limits)?;
    let (width, height) = (image.width(), image.height());
    // The orientation tag left with the rest of the EXIF data, so a photo taken with the
    // phone turned would be published sideways. Turn its pixels instead: this re-encodes
    // only those photos (JPEG at high quality); upright ones stay byte for byte.
    let (published, (width, height)) = if orientation == Orientation::NoTransforms {
        (stripped, (width, height))
    } else {
        let mut upright = image.clone();
        upright.apply_orientation(orientation);
        let dims = (upright.width(), upright.height());
        (encode_like(&upright, format)?, dims)
    };
    let thumbnail = make_thumbnail(image, orientation, limits.thumbnail_edge)?;

    Ok(ProcessedPhoto {
        format,
        content_type: format.content_type(),
        bytes: published,
        width,
        height,
        thumbnail,
        exif_orientation: orientation.to_exif(),
    })
}

/// Reads tag 0x0112 from a raw EXIF payload (TIFF header first; a leading
/// `Exif\0\0` is tolerated since some PNG/WebP writers include it).
fn orientation_from_exif(exif: &[u8]) -> Option<Orientation> {
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    Orientation::from_exif_chunk(tiff)
}

// ---------------------------------------------------------------------------
// Metadata stripping
// ---------------------------------------------------------------------------

/// Stripped bytes and the raw EXIF payload that was removed (if any).
type Stripped = (Vec<u8>, Option<Bytes>);

/// Whether a JPEG APPn/COM segment may be published. Only segments that affect
/// how pixels render are kept: the JFIF header, ICC colour profiles and the
/// Adobe colour-transform marker. Everything else — EXIF and XMP (APP1), MPF
/// multi-picture indexes and FlashPix (APP2), IPTC/Photoshop (APP13), vendor
/// APPn segments, JFXX embedded thumbnails and comments (COM) — is dropped.
fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        markers::APP0 => contents.starts_with(b"JFIF\0"),
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        markers::APP14 => contents.starts_with(b"Adobe"),
        markers::APP0..=markers::APP15 | markers::COM => false,
        _ => true,
    }
}

fn strip_jpeg(bytes: &[u8]) -> Result<Stripped, MediaError> {
    let ty = PhotoFormat::Jpeg;
    let mut jpeg =
        Jpeg::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|e| container_error(ty, e))?;
    let exif = jpeg.exif();

    // Header segments, up to and including the first scan header.
    jpeg.segments_mut()
        .retain(|segment| keep_jpeg_segment(segment.marker(), segment.contents()));

    // img-parts keeps everything after the first scan header as the SOS
    // segment's "entropy": further scans, marker segments between scans, the
    // EOI marker and anything appended after it (MPF secondary images with their
    // own EXIF, vendor trailers). Clean that part too.
    let last = jpeg
        .segments_mut()
        .last_mut()
        .filter(|segment| segment.marker() == markers::SOS && segment.has_entropy())
        .ok_or_else(|| corrupt(ty, "no image scan found"))?;
    // `len()` excludes the entropy, which is encoded right after the header.
    let scans = last.clone().encoder().bytes().slice(last.len()..);
    let mut cleaned = Vec::with_capacity(scans.len());
    clean_jpeg_scans(&scans, &mut cleaned)?;
    let contents = last.contents().clone();
    *last = JpegSegment::new_with_entropy(markers::SOS, contents, Bytes::from(cleaned));

    Ok((jpeg.encoder().bytes().to_vec(), exif))
}

/// Copies entropy-coded data and the marker segments between scans into `out`,
/// dropping metadata segments, and stops right after the EOI marker. Fails if
/// the data ends before EOI (a truncated upload).
fn clean_jpeg_scans(data: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
    let ty = PhotoFormat::Jpeg;
    let truncated = || corrupt(ty, "the file ends before the end-of-image marker");
    let mut copied = 0;
    let mut i = 0;
    while i < data.len() {
        if data[i] != 0xFF {
            i += 1;
            continue;
        }
        let start = i;
        // Skip fill bytes.
        let mut m = i + 1;
        while m < data.len() && data[m] == 0xFF {
            m += 1;
        }
        let Some(&marker) = data.get(m) else {
            return Err(truncated());
        };
        match marker {
            // Stuffed 0xFF in entropy-coded data, restart markers, TEM.
            0x00 | markers::RST0..=markers::RST7 | 0x01 => i = m + 1,
            markers::EOI => {
                out.extend_from_slice(&data[copied..=m]);
                return Ok(());
            }
            markers::SOI => return Err(corrupt(ty, "unexpected start-of-image marker")),
            _ => {
                let len_bytes = data.get(m + 1..m + 3).ok_or_else(truncated)?;
                let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
                if len < 2 {
                    return Err(corrupt(ty, "invalid marker segment length"));
                }
                let end = m + 1 + len;
                let contents = data.get(m + 3..end).ok_or_else(truncated)?;
                if !keep_jpeg_segment(marker, contents) {
                    out.extend_from_slice(&data[copied..start]);
                    copied = end;
                }
                i = end;
            }
        }
    }
    Err(truncated())
}

/// PNG ancillary chunks that affect rendering (or APNG animation) and carry no
/// personal data. Every other ancillary chunk — eXIf, tEXt, zTXt, iTXt (XMP),
/// tIME, private chunks — is dropped. Critical chunks are always kept.
const PNG_KEEP: [&[u8; 4]; 14] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP", b"mDCv", b"cLLi", b"bKGD",
    b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

fn strip_png(bytes: &[u8]) -> Result<Stripped, MediaError> {
    let ty = PhotoFormat::Png;
    let mut png =
        Png::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|e| container_error(ty, e))?;
    if png.chunks().last().map(|c| c.kind()) != Some(*b"IEND") {
        return Err(corrupt(ty, "the file ends before the IEND chunk"));
    }
    let exif = png.exif();
    png.chunks_mut().retain(|chunk| {
        let kind = chunk.kind();
        let critical = kind[0] & 0x20 == 0;
        critical || PNG_KEEP.contains(&&kind)
    });
    Ok((png.encoder().bytes().to_vec(), exif))
}

/// WebP chunks needed to render the image; EXIF, XMP and unknown chunks go.
const WEBP_KEEP: [&[u8; 4]; 7] = [
    b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];
const VP8X_FLAG_EXIF: u8 = 0x08;
const VP8X_FLAG_XMP: u8 = 0x04;

fn strip_webp(bytes: &[u8]) -> Result<Stripped, MediaError> {
    use img_parts::riff::{RiffChunk, RiffContent};

    let ty = PhotoFormat::WebP;
    let mut webp =
        WebP::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|e| container_error(ty, e))?;
    let exif = webp.exif();
    webp.chunks_mut()
        .retain(|chunk| WEBP_KEEP.contains(&&chunk.id()));
    // The VP8X header announces which metadata chunks follow; clear the flags of
    // the ones just removed so the file stays consistent.
    for chunk in webp.chunks_mut() {
        if chunk.id() != *b"VP8X" {
            continue;
        }
        if let Some(data) = chunk.content().data() {
            if let Some(&flags) = data.first() {
                let mut new = data.to_vec();
                new[0] = flags & !(VP8X_FLAG_EXIF | VP8X_FLAG_XMP);
                *chunk = RiffChunk::new(*b"VP8X", RiffContent::Data(Bytes::from(new)));
            }
        }
    }
    Ok((webp.encoder().bytes().to_vec(), exif))
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// Reads the header, enforces the pixel limit, then decodes with bounded memory.
fn decode_checked(
    bytes: &[u8],
    format: PhotoFormat,
    limits: &Limits,
) -> Result<DynamicImage, MediaError> {
    // The most any supported format needs per pixel (16-bit RGBA PNG) plus
    // headroom for the decoders' working buffers.
    let max_alloc = limits
        .max_pixels
        .saturating_mul(8)
        .saturating_add(64 * 1024 * 1024);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(max_alloc);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(image_limits);
    // Constructing the decoder parses only the header.
    let decoder = reader.into_decoder().map_err(|e| decode_error(format, e))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(corrupt(format, "the header declares an empty image"));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    if decoder.total_bytes() > max_alloc {
        return Err(corrupt(format, "decoding it would need too much memory"));
    }
    let image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format, e))?;
    if (image.width(), image.height()) != (width, height) {
        return Err(corrupt(format, "decoded size differs from the header"));
    }
    Ok(image)
}

fn decode_error(format: PhotoFormat, err: ImageError) -> MediaError {
    match err {
        ImageError::Limits(_) => corrupt(format, "decoding it would need too much memory"),
        ImageError::Unsupported(e) => MediaError::Corrupt(format!(
            "the {format} file uses a feature that is not supported ({e})"
        )),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            corrupt(format, "the file ends too early")
        }
        other => corrupt(format, other),
    }
}

// ---------------------------------------------------------------------------
// Thumbnail
// ---------------------------------------------------------------------------

const THUMBNAIL_QUALITY: u8 = 82;

/// Encode pixels in the upload's own format, with no metadata.
fn encode_like(image: &DynamicImage, format: PhotoFormat) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    let failed = |e: ImageError| {
        MediaError::Corrupt(format!("the upright photo could not be encoded ({e})"))
    };
    match format {
        PhotoFormat::Jpeg => {
            let rgb = if image.color().has_alpha() {
                flatten_on_white(image)
            } else {
                image.to_rgb8()
            };
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, UPRIGHT_QUALITY)
                .encode_image(&rgb)
                .map_err(failed)?;
        }
        PhotoFormat::Png => image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(failed)?,
        PhotoFormat::WebP => {
            let rgba = image.to_rgba8();
            image::codecs::webp::WebPEncoder::new_lossless(&mut out)
                .encode(
                    rgba.as_raw(),
                    rgba.width(),
                    rgba.height(),
                    image::ExtendedColorType::Rgba8,
                )
                .map_err(failed)?;
        }
    }
    Ok(out)
}

/// Quality for full-size photos that had to be turned upright.
const UPRIGHT_QUALITY: u8 = 92;

fn make_thumbnail(
    image: DynamicImage,
    orientation: Orientation,
    edge: u32,
) -> Result<Vec<u8>, MediaError> {
    let edge = edge.max(1);
    // Orientation only rotates/flips, so the longest edge is the same before and
    // after it: scale first, then orient the small image.
    let mut small = if image.width().max(image.height()) > edge {
        image.thumbnail(edge, edge)
    } else {
        image
    };
    small.apply_orientation(orientation);

    let rgb = if small.color().has_alpha() {
        flatten_on_white(&small)
    } else {
        small.to_rgb8()
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, THUMBNAIL_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| MediaError::Corrupt(format!("the thumbnail could not be encoded ({e})")))?;
    Ok(out)
}

/// JPEG has no transparency: composite onto white rather than letting
/// transparent pixels turn black.
fn flatten_on_white(image: &DynamicImage) -> image::RgbImage {
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = u16::from(a);
        let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}
