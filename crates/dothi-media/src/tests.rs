use super::*;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{Rgb, RgbImage, Rgba, RgbaImage};

// ---------------------------------------------------------------------------
// Fixture builders
// ---------------------------------------------------------------------------

const RED: Rgb<u8> = Rgb([230, 20, 20]);
const BLUE: Rgb<u8> = Rgb([20, 20, 230]);

/// Left half red, right half blue, so rotations are observable.
fn split_image(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| if x < width / 2 { RED } else { BLUE })
}

fn gradient_image(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    })
}

fn encode_jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(image)
        .unwrap();
    out
}

fn encode_png(image: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn encode_webp_lossless(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_with_encoder(WebPEncoder::new_lossless(&mut out))
        .unwrap();
    out
}

fn decode(bytes: &[u8], format: ImageFormat) -> DynamicImage {
    image::load_from_memory_with_format(bytes, format).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// GPSLatitude 21° 1' 42.6" (Hà Nội) as three little-endian RATIONALs.
fn gps_latitude() -> Vec<u8> {
    rationals(&[(21, 1), (1, 1), (426, 10)])
}

/// GPSLongitude 105° 51' 15.12".
fn gps_longitude() -> Vec<u8> {
    rationals(&[(105, 1), (51, 1), (1512, 100)])
}

const GPS_DATE: &[u8] = b"2024:05:17\0";
const CAMERA_MAKE: &[u8] = b"DothiPhone X\0";

fn rationals(values: &[(u32, u32)]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|(n, d)| n.to_le_bytes().into_iter().chain(d.to_le_bytes()))
        .collect()
}

/// (tag, type, count, value bytes)
type Entry = (u16, u16, u32, Vec<u8>);

const ASCII: u16 = 2;
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;
const BYTE: u16 = 1;

fn ifd_size(entries: &[Entry]) -> u32 {
    2 + 12 * entries.len() as u32 + 4
}

fn write_ifd(out: &mut Vec<u8>, data: &mut Vec<u8>, data_base: u32, entries: &[Entry]) {
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, ty, count, value) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        if value.len() <= 4 {
            let mut inline = value.clone();
            inline.resize(4, 0);
            out.extend_from_slice(&inline);
        } else {
            let offset = data_base + data.len() as u32;
            out.extend_from_slice(&offset.to_le_bytes());
            data.extend_from_slice(value);
            if data.len() % 2 == 1 {
                data.push(0);
            }
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
}

/// A little-endian TIFF/EXIF structure, built by hand: IFD0 with Make,
/// Orientation and a GPSInfo pointer to a GPS IFD holding a full position.
fn exif_tiff(orientation: u16) -> Vec<u8> {
    let gps: Vec<Entry> = vec![
        (0x0000, BYTE, 4, vec![2, 3, 0, 0]),    // GPSVersionID
        (0x0001, ASCII, 2, b"N\0".to_vec()),    // GPSLatitudeRef
        (0x0002, RATIONAL, 3, gps_latitude()),  // GPSLatitude
        (0x0003, ASCII, 2, b"E\0".to_vec()),    // GPSLongitudeRef
        (0x0004, RATIONAL, 3, gps_longitude()), // GPSLongitude
        (0x001D, ASCII, 11, GPS_DATE.to_vec()), // GPSDateStamp
    ];
    let ifd0_len: u32 = 3;
    let gps_offset = 8 + 2 + 12 * ifd0_len + 4;
    let ifd0: Vec<Entry> = vec![
        (
            0x010F,
            ASCII,
            CAMERA_MAKE.len() as u32,
            CAMERA_MAKE.to_vec(),
        ), // Make
        (0x0112, SHORT, 1, orientation.to_le_bytes().to_vec()), // Orientation
        (0x8825, LONG, 1, gps_offset.to_le_bytes().to_vec()),   // GPSInfo
    ];
    assert_eq!(ifd0.len() as u32, ifd0_len);
    let data_base = 8 + ifd_size(&ifd0) + ifd_size(&gps);

    let mut out = b"II\x2A\x00".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes()); // IFD0 right after the header
    let mut data = Vec::new();
    write_ifd(&mut out, &mut data, data_base, &ifd0);
    assert_eq!(out.len() as u32, gps_offset);
    write_ifd(&mut out, &mut data, data_base, &gps);
    assert_eq!(out.len() as u32, data_base);
    out.extend_from_slice(&data);
    out
}

fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut seg = vec![0xFF, marker];
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(payload);
    seg
}

fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&exif_tiff(orientation));
    jpeg_segment(0xE1, &payload)
}

const XMP_SECRET: &[u8] = b"<exif:GPSLatitude>21,1.71N</exif:GPSLatitude>";
const COMMENT_SECRET: &[u8] = b"reporter Nguyen Van A, 0912345678";
const IPTC_SECRET: &[u8] = b"Photoshop 3.0\08BIM\x04\x04 city=Ha Noi";

fn xmp_app1() -> Vec<u8> {
    let mut payload = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    payload.extend_from_slice(b"<x:xmpmeta><rdf:RDF><rdf:Description>");
    payload.extend_from_slice(XMP_SECRET);
    payload.extend_from_slice(b"</rdf:Description></rdf:RDF></x:xmpmeta>");
    jpeg_segment(0xE1, &payload)
}

/// Inserts metadata segments right after the JFIF APP0 segment, where cameras
/// put them.
fn insert_jpeg_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    assert_eq!(&jpeg[..4], &[0xFF, 0xD8, 0xFF, 0xE0], "expected JFIF first");
    let app0_len = usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    let split = 4 + app0_len;
    let mut out = jpeg[..split].to_vec();
    for segment in segments {
        out.extend_from_slice(segment);
    }
    out.extend_from_slice(&jpeg[split..]);
    out
}

fn camera_jpeg(image: &RgbImage, orientation: u16) -> (Vec<u8>, Vec<u8>) {
    let clean = encode_jpeg(image);
    let tagged = insert_jpeg_segments(
        &clean,
        &[
            exif_app1(orientation),
            xmp_app1(),
            jpeg_segment(0xED, IPTC_SECRET),
            jpeg_segment(0xFE, COMMENT_SECRET),
        ],
    );
    (clean, tagged)
}

fn assert_no_personal_metadata(bytes: &[u8]) {
    assert!(!contains(bytes, b"Exif\0\0"), "Exif marker survived");
    assert!(!contains(bytes, &gps_latitude()), "GPS latitude survived");
    assert!(!contains(bytes, &gps_longitude()), "GPS longitude survived");
    assert!(!contains(bytes, GPS_DATE), "GPS date survived");
    assert!(!contains(bytes, CAMERA_MAKE), "camera make survived");
    assert!(!contains(bytes, XMP_SECRET), "XMP survived");
    assert!(!contains(bytes, COMMENT_SECRET), "comment survived");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// Splits a PNG into (type, data) pairs, checking CRCs.
fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert!(png.starts_with(PNG_SIGNATURE));
    let mut pos = 8;
    let mut chunks = Vec::new();
    while pos < png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[pos + 4..pos + 8].try_into().unwrap();
        let data = png[pos + 8..pos + 8 + len].to_vec();
        let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(&data);
        assert_eq!(crc, crc32(&crc_input), "bad CRC in {:?}", kind);
        chunks.push((kind, data));
        pos += 12 + len;
    }
    chunks
}

fn png_from_chunks(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = PNG_SIGNATURE.to_vec();
    for (kind, data) in chunks {
        out.extend_from_slice(&png_chunk(kind, data));
    }
    out
}

/// Inserts ancillary chunks: `before_idat` right after IHDR, `after_idat`
/// right before IEND.
fn png_with_chunks(
    png: &[u8],
    before_idat: &[([u8; 4], Vec<u8>)],
    after_idat: &[([u8; 4], Vec<u8>)],
) -> Vec<u8> {
    let mut chunks = png_chunks(png);
    let iend = chunks.pop().unwrap();
    assert_eq!(&iend.0, b"IEND");
    chunks.extend_from_slice(after_idat);
    chunks.push(iend);
    for (i, chunk) in before_idat.iter().enumerate() {
        chunks.insert(1 + i, chunk.clone());
    }
    png_from_chunks(&chunks)
}

fn riff_chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn riff_webp(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(4 + body.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&body);
    out
}

/// (id, data) of each top-level chunk of a WebP file.
fn webp_chunks(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(&webp[..4], b"RIFF");
    assert_eq!(&webp[8..12], b"WEBP");
    let riff_len = u32::from_le_bytes(webp[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff_len + 8, webp.len(), "RIFF size must match the file");
    let mut pos = 12;
    let mut chunks = Vec::new();
    while pos < webp.len() {
        let id: [u8; 4] = webp[pos..pos + 4].try_into().unwrap();
        let len = u32::from_le_bytes(webp[pos + 4..pos + 8].try_into().unwrap()) as usize;
        chunks.push((id, webp[pos + 8..pos + 8 + len].to_vec()));
        pos += 8 + len + len % 2;
    }
    chunks
}

/// Extended-format WebP (VP8X) holding the lossless bitstream plus EXIF and XMP.
fn webp_with_metadata(simple: &[u8], width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let chunks = webp_chunks(simple);
    assert_eq!(chunks.len(), 1);
    let (id, bitstream) = &chunks[0];
    assert_eq!(id, b"VP8L");

    let mut vp8x = vec![VP8X_FLAG_EXIF | VP8X_FLAG_XMP, 0, 0, 0];
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);

    let mut xmp = b"<x:xmpmeta>".to_vec();
    xmp.extend_from_slice(XMP_SECRET);
    xmp.extend_from_slice(b"</x:xmpmeta>");

    riff_webp(&[
        riff_chunk(b"VP8X", &vp8x),
        riff_chunk(b"VP8L", bitstream),
        riff_chunk(b"EXIF", &exif_tiff(orientation)),
        riff_chunk(b"XMP ", &xmp),
    ])
}

fn limits_with(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    f(&mut limits);
    limits
}

fn is_reddish(p: Rgb<u8>) -> bool {
    p.0[0] > 150 && p.0[2] < 100
}

fn is_bluish(p: Rgb<u8>) -> bool {
    p.0[2] > 150 && p.0[0] < 100
}

fn thumbnail_of(photo: &ProcessedPhoto) -> RgbImage {
    assert_eq!(sniff(&photo.thumbnail), Some(PhotoFormat::Jpeg));
    decode(&photo.thumbnail, ImageFormat::Jpeg).to_rgb8()
}

// ---------------------------------------------------------------------------
// Format sniffing
// ---------------------------------------------------------------------------

#[test]
fn sniff_recognises_each_accepted_format_by_magic_bytes() {
    let image = DynamicImage::ImageRgb8(gradient_image(8, 8));
    assert_eq!(
        sniff(&encode_jpeg(&gradient_image(8, 8))),
        Some(PhotoFormat::Jpeg)
    );
    assert_eq!(sniff(&encode_png(&image)), Some(PhotoFormat::Png));
    assert_eq!(
        sniff(&encode_webp_lossless(&image)),
        Some(PhotoFormat::WebP)
    );
}

#[test]
fn sniff_rejects_lookalikes_and_short_input() {
    assert_eq!(sniff(b""), None);
    assert_eq!(sniff(&[0xFF, 0xD8]), None);
    assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WAVEfmt "), None);
    assert_eq!(sniff(b"RIFF\x00\x00\x00\x00WEB"), None);
    assert_eq!(sniff(b"\x89PNG\r\n"), None);
    assert_eq!(sniff(b"GIF89a"), None);
    assert_eq!(sniff(b"%PDF-1.7"), None);
    assert_eq!(sniff(b"BM\x3a\x00\x00\x00"), None);
    assert_eq!(sniff(b"photo.jpg image/jpeg"), None);
}

#[test]
fn format_reports_content_type_and_extension() {
    assert_eq!(PhotoFormat::Jpeg.content_type(), "image/jpeg");
    assert_eq!(PhotoFormat::Png.content_type(), "image/png");
    assert_eq!(PhotoFormat::WebP.content_type(), "image/webp");
    assert_eq!(PhotoFormat::Jpeg.extension(), "jpg");
    assert_eq!(PhotoFormat::Png.extension(), "png");
    assert_eq!(PhotoFormat::WebP.extension(), "webp");
}

#[test]
fn default_limits_are_10_mib_40_megapixels_and_320_px() {
    let limits = Limits::default();
    assert_eq!(limits.max_bytes, 10 * 1024 * 1024);
    assert_eq!(limits.max_pixels, 40_000_000);
    assert_eq!(limits.thumbnail_edge, 320);
}

// ---------------------------------------------------------------------------
// Metadata stripping
// ---------------------------------------------------------------------------

#[test]
fn jpeg_exif_gps_xmp_iptc_and_comments_are_removed() {
    let (clean, tagged) = camera_jpeg(&gradient_image(120, 80), 1);
    // The fixture really carries the metadata, and it is readable.
    assert!(contains(&tagged, b"Exif\0\0"));
    assert!(contains(&tagged, &gps_latitude()));
    assert_eq!(decode(&tagged, ImageFormat::Jpeg).width(), 120);

    let photo = process_photo(&tagged, &Limits::default()).unwrap();

    assert_eq!(photo.format, PhotoFormat::Jpeg);
    assert_eq!(photo.content_type, "image/jpeg");
    assert_no_personal_metadata(&photo.bytes);
    assert!(!contains(&photo.bytes, b"8BIM"), "IPTC survived");
    assert!(!contains(&photo.bytes, b"http://ns.adobe.com/xap"));
    assert_eq!((photo.width, photo.height), (120, 80));
    let decoded = decode(&photo.bytes, ImageFormat::Jpeg);
    assert_eq!((decoded.width(), decoded.height()), (120, 80));
    assert_eq!(photo.exif_orientation, 1);
    // Not re-encoded: exactly the camera's image data, minus the metadata.
    assert_eq!(photo.bytes, clean);
}

#[test]
fn jpeg_without_metadata_passes_through_byte_for_byte() {
    let clean = encode_jpeg(&gradient_image(64, 48));
    let photo = process_photo(&clean, &Limits::default()).unwrap();
    assert_eq!(photo.bytes, clean);
    assert_eq!(photo.exif_orientation, 1);
}

#[test]
fn jpeg_stripping_keeps_the_icc_colour_profile() {
    let clean = encode_jpeg(&gradient_image(32, 32));
    let mut icc = b"ICC_PROFILE\0\x01\x01".to_vec();
    icc.extend_from_slice(b"fake-profile-bytes");
    let icc_segment = jpeg_segment(0xE2, &icc);
    let tagged = insert_jpeg_segments(&clean, &[exif_app1(1), icc_segment.clone()]);

    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    assert!(contains(&photo.bytes, &icc_segment));
    assert!(!contains(&photo.bytes, b"Exif\0\0"));
    assert_eq!(photo.bytes, insert_jpeg_segments(&clean, &[icc_segment]));
}

#[test]
fn jpeg_data_after_end_of_image_is_dropped() {
    // Multi-picture and vendor trailers sit after EOI and carry their own EXIF.
    let clean = encode_jpeg(&gradient_image(40, 40));
    let mut trailer = vec![0xFF, 0xD8];
    trailer.extend_from_slice(&exif_app1(1));
    trailer.extend_from_slice(b"secondary image data");
    let tagged = [clean.clone(), trailer].concat();

    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    assert_eq!(photo.bytes, clean);
    assert_no_personal_metadata(&photo.bytes);
}

#[test]
fn jpeg_metadata_between_scan_data_and_end_of_image_is_dropped() {
    let clean = encode_jpeg(&gradient_image(40, 40));
    assert_eq!(&clean[clean.len() - 2..], &[0xFF, 0xD9]);
    let tagged = [
        &clean[..clean.len() - 2],
        &jpeg_segment(0xFE, COMMENT_SECRET),
        &exif_app1(1),
        &[0xFF, 0xD9][..],
    ]
    .concat();
    assert_eq!(decode(&tagged, ImageFormat::Jpeg).width(), 40);

    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    assert_eq!(photo.bytes, clean);
}

#[test]
fn png_exif_and_text_chunks_are_removed() {
    let image = DynamicImage::ImageRgb8(gradient_image(30, 20));
    let clean = encode_png(&image);
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(XMP_SECRET);
    let mut text = b"Comment\0".to_vec();
    text.extend_from_slice(COMMENT_SECRET);
    let tagged = png_with_chunks(
        &clean,
        &[(*b"eXIf", exif_tiff(1))],
        &[
            (*b"tEXt", text),
            (*b"iTXt", itxt),
            (*b"tIME", vec![0x07, 0xE8, 5, 17, 8, 30, 0]),
        ],
    );
    let kinds = |png: &[u8]| -> Vec<[u8; 4]> { png_chunks(png).into_iter().map(|c| c.0).collect() };
    assert!(kinds(&tagged).contains(b"eXIf") && kinds(&tagged).contains(b"tEXt"));

    let photo = process_photo(&tagged, &Limits::default()).unwrap();

    assert_eq!(photo.format, PhotoFormat::Png);
    let out_kinds = kinds(&photo.bytes);
    for gone in [b"eXIf", b"tEXt", b"iTXt", b"tIME"] {
        assert!(!out_kinds.contains(gone), "{:?} survived", gone);
    }
    assert_eq!(out_kinds.first(), Some(b"IHDR"));
    assert_eq!(out_kinds.last(), Some(b"IEND"));
    assert_no_personal_metadata(&photo.bytes);
    assert!(!contains(&photo.bytes, &exif_tiff(1)));
    assert_eq!(photo.bytes, clean);
    assert_eq!((photo.width, photo.height), (30, 20));
    let decoded = decode(&photo.bytes, ImageFormat::Png);
    assert_eq!(
        decoded.to_rgb8(),
        image.to_rgb8(),
        "PNG pixels must be identical"
    );
}

#[test]
fn png_rendering_chunks_are_kept() {
    let image = DynamicImage::ImageRgb8(gradient_image(10, 10));
    let clean = encode_png(&image);
    let with_render_chunks = png_with_chunks(
        &clean,
        &[
            (*b"gAMA", 45455u32.to_be_bytes().to_vec()),
            (*b"sRGB", vec![0]),
        ],
        &[],
    );
    let tagged = png_with_chunks(
        &with_render_chunks,
        &[(*b"eXIf", exif_tiff(1))],
        &[(*b"zTXt", b"Comment\0\0x".to_vec())],
    );
    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    assert_eq!(photo.bytes, with_render_chunks);
}

#[test]
fn webp_exif_and_xmp_chunks_are_removed() {
    let image = DynamicImage::ImageRgba8(RgbaImage::from_fn(40, 30, |x, y| {
        Rgba([(x * 6) as u8, (y * 8) as u8, 90, 255])
    }));
    let simple = encode_webp_lossless(&image);
    let tagged = webp_with_metadata(&simple, 40, 30, 1);
    // The hand-built extended file is itself a valid WebP.
    assert_eq!(
        decode(&tagged, ImageFormat::WebP).to_rgba8(),
        image.to_rgba8()
    );

    let photo = process_photo(&tagged, &Limits::default()).unwrap();

    assert_eq!(photo.format, PhotoFormat::WebP);
    assert_eq!(photo.content_type, "image/webp");
    let chunks = webp_chunks(&photo.bytes);
    let ids: Vec<[u8; 4]> = chunks.iter().map(|c| c.0).collect();
    assert!(!ids.contains(b"EXIF") && !ids.contains(b"XMP "), "{ids:?}");
    assert!(ids.contains(b"VP8L"));
    if let Some((_, vp8x)) = chunks.iter().find(|c| &c.0 == b"VP8X") {
        assert_eq!(vp8x[0] & (VP8X_FLAG_EXIF | VP8X_FLAG_XMP), 0);
    }
    assert_no_personal_metadata(&photo.bytes);
    assert!(!contains(&photo.bytes, b"II\x2A\x00"));
    assert_eq!((photo.width, photo.height), (40, 30));
    let decoded = decode(&photo.bytes, ImageFormat::WebP);
    assert_eq!(
        decoded.to_rgba8(),
        image.to_rgba8(),
        "lossless pixels must survive"
    );
}

// ---------------------------------------------------------------------------
// Orientation and thumbnails
// ---------------------------------------------------------------------------

#[test]
fn jpeg_orientation_6_produces_a_rotated_thumbnail() {
    let (_, tagged) = camera_jpeg(&split_image(64, 32), 6);
    let photo = process_photo(&tagged, &Limits::default()).unwrap();

    assert_eq!(photo.exif_orientation, 6);
    // The published photo is turned upright (its tag is gone with the EXIF data):
    // rotated 90° clockwise, so width/height swap and the left (red) half is on top.
    assert_eq!((photo.width, photo.height), (32, 64));
    assert_no_personal_metadata(&photo.bytes);
    let published = decode(&photo.bytes, ImageFormat::Jpeg).to_rgb8();
    assert_eq!(published.dimensions(), (32, 64));
    assert!(
        is_reddish(*published.get_pixel(16, 8)),
        "{:?}",
        published.get_pixel(16, 8)
    );
    assert!(
        is_bluish(*published.get_pixel(16, 56)),
        "{:?}",
        published.get_pixel(16, 56)
    );
    // The thumbnail is upright too.
    let thumb = thumbnail_of(&photo);
    assert_eq!(thumb.dimensions(), (32, 64));
    assert!(
        is_reddish(*thumb.get_pixel(16, 8)),
        "{:?}",
        thumb.get_pixel(16, 8)
    );
    assert!(
        is_bluish(*thumb.get_pixel(16, 56)),
        "{:?}",
        thumb.get_pixel(16, 56)
    );
}

#[test]
fn jpeg_orientation_8_rotates_the_thumbnail_counter_clockwise() {
    let (_, tagged) = camera_jpeg(&split_image(64, 32), 8);
    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    let thumb = thumbnail_of(&photo);
    assert_eq!(thumb.dimensions(), (32, 64));
    assert!(is_bluish(*thumb.get_pixel(16, 8)));
    assert!(is_reddish(*thumb.get_pixel(16, 56)));
}

#[test]
fn jpeg_orientation_1_leaves_the_thumbnail_as_stored() {
    let (clean, tagged) = camera_jpeg(&split_image(64, 32), 1);
    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    let thumb = thumbnail_of(&photo);
    assert_eq!(thumb.dimensions(), (64, 32));
    assert_eq!((photo.width, photo.height), (64, 32));
    // Upright photos are published byte for byte (only metadata removed).
    assert_eq!(photo.bytes, clean);
    assert!(is_reddish(*thumb.get_pixel(8, 16)));
    assert!(is_bluish(*thumb.get_pixel(56, 16)));
}

#[test]
fn png_exif_orientation_is_applied_to_the_thumbnail() {
    let image = DynamicImage::ImageRgb8(split_image(64, 32));
    let tagged = png_with_chunks(&encode_png(&image), &[(*b"eXIf", exif_tiff(6))], &[]);
    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    assert_eq!(photo.exif_orientation, 6);
    assert!(!contains(&photo.bytes, b"eXIf"));
    let thumb = thumbnail_of(&photo);
    assert_eq!(thumb.dimensions(), (32, 64));
    assert!(is_reddish(*thumb.get_pixel(16, 8)));
}

#[test]
fn webp_exif_orientation_is_applied_to_the_thumbnail() {
    let image = DynamicImage::ImageRgb8(split_image(64, 32));
    let tagged = webp_with_metadata(&encode_webp_lossless(&image), 64, 32, 6);
    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    assert_eq!(photo.exif_orientation, 6);
    assert_eq!(thumbnail_of(&photo).dimensions(), (32, 64));
}

#[test]
fn thumbnail_longest_edge_fits_the_limit_and_decodes_as_jpeg() {
    let (_, tagged) = camera_jpeg(&gradient_image(1000, 600), 1);
    let photo = process_photo(&tagged, &Limits::default()).unwrap();
    let thumb = thumbnail_of(&photo);
    assert_eq!(thumb.dimensions(), (320, 192));
    assert!(!contains(&photo.thumbnail, b"Exif\0\0"));
    assert!(!contains(&photo.thumbnail, &gps_latitude()));
}

#[test]
fn thumbnail_respects_a_custom_edge_for_tall_images() {
    let image = DynamicImage::ImageRgb8(gradient_image(90, 600));
    let limits = limits_with(|l| l.thumbnail_edge = 64);
    let photo = process_photo(&encode_png(&image), &limits).unwrap();
    let (w, h) = thumbnail_of(&photo).dimensions();
    assert_eq!(h, 64);
    assert!(w.max(h) <= 64 && w >= 9, "{w}x{h}");
}

#[test]
fn thumbnail_of_a_small_photo_is_not_upscaled() {
    let photo = process_photo(&encode_jpeg(&gradient_image(100, 50)), &Limits::default()).unwrap();
    assert_eq!(thumbnail_of(&photo).dimensions(), (100, 50));
}

#[test]
fn thumbnail_of_a_transparent_png_is_flattened_onto_white() {
    let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(20, 20, Rgba([0, 0, 0, 0])));
    let photo = process_photo(&encode_png(&image), &Limits::default()).unwrap();
    let thumb = thumbnail_of(&photo);
    assert!(thumb.pixels().all(|p| p.0.iter().all(|&c| c > 240)));
}

#[test]
fn sixteen_bit_png_is_accepted() {
    let image = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(
        12,
        8,
        image::Rgb([65535u16, 0, 30000]),
    ));
    let png = encode_png(&image);
    let photo = process_photo(&png, &Limits::default()).unwrap();
    assert_eq!(photo.bytes, png);
    assert_eq!(thumbnail_of(&photo).dimensions(), (12, 8));
}

// ---------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------

const TINY_GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
const TINY_PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n";

#[test]
fn empty_upload_is_rejected() {
    assert_eq!(
        process_photo(b"", &Limits::default()),
        Err(MediaError::Empty)
    );
}

#[test]
fn gif_is_rejected_as_unsupported() {
    assert_eq!(
        process_photo(TINY_GIF, &Limits::default()),
        Err(MediaError::UnsupportedType)
    );
}

#[test]
fn pdf_is_rejected_as_unsupported() {
    assert_eq!(
        process_photo(TINY_PDF, &Limits::default()),
        Err(MediaError::UnsupportedType)
    );
}

#[test]
fn text_renamed_to_jpg_is_rejected_as_unsupported() {
    let text = b"this is a text file that a client uploaded as photo.jpg\n";
    assert_eq!(
        process_photo(text, &Limits::default()),
        Err(MediaError::UnsupportedType)
    );
}

#[test]
fn other_riff_files_are_rejected_as_unsupported() {
    let wav = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00";
    assert_eq!(
        process_photo(wav, &Limits::default()),
        Err(MediaError::UnsupportedType)
    );
}

#[test]
fn oversize_upload_is_rejected_before_it_is_parsed() {
    // Not even an image: size is checked first.
    let limits = limits_with(|l| l.max_bytes = 1000);
    assert_eq!(
        process_photo(&[0u8; 2000], &limits),
        Err(MediaError::TooLarge {
            size: 2000,
            max_bytes: 1000
        })
    );
    let jpeg = encode_jpeg(&gradient_image(64, 64));
    let limits = limits_with(|l| l.max_bytes = jpeg.len() - 1);
    assert!(matches!(
        process_photo(&jpeg, &limits),
        Err(MediaError::TooLarge { .. })
    ));
}

#[test]
fn upload_exactly_at_the_byte_limit_is_accepted() {
    let jpeg = encode_jpeg(&gradient_image(64, 64));
    let limits = limits_with(|l| l.max_bytes = jpeg.len());
    assert!(process_photo(&jpeg, &limits).is_ok());
}

#[test]
fn truncated_jpeg_is_rejected_as_corrupt() {
    let jpeg = encode_jpeg(&gradient_image(200, 150));
    for cut in [3, 20, jpeg.len() / 2, jpeg.len() - 2] {
        let result = process_photo(&jpeg[..cut], &Limits::default());
        assert!(
            matches!(result, Err(MediaError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn jpeg_header_without_image_data_is_corrupt() {
    assert!(matches!(
        process_photo(&[0xFF, 0xD8, 0xFF, 0xD9], &Limits::default()),
        Err(MediaError::Corrupt(_))
    ));
}

#[test]
fn truncated_png_is_rejected_as_corrupt() {
    let png = encode_png(&DynamicImage::ImageRgb8(gradient_image(80, 80)));
    // Mid-chunk, and cleanly at a chunk boundary before IEND.
    for cut in [20, png.len() / 2, png.len() - 12] {
        let result = process_photo(&png[..cut], &Limits::default());
        assert!(
            matches!(result, Err(MediaError::Corrupt(_))),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn png_with_a_bad_checksum_is_corrupt() {
    let mut png = encode_png(&DynamicImage::ImageRgb8(gradient_image(16, 16)));
    let last_idat_byte = png.len() - 12 - 5;
    png[last_idat_byte] ^= 0xFF;
    assert!(matches!(
        process_photo(&png, &Limits::default()),
        Err(MediaError::Corrupt(_))
    ));
}

#[test]
fn truncated_webp_is_rejected_as_corrupt() {
    let webp = encode_webp_lossless(&DynamicImage::ImageRgb8(gradient_image(50, 50)));
    let result = process_photo(&webp[..webp.len() / 2], &Limits::default());
    assert!(matches!(result, Err(MediaError::Corrupt(_))), "{result:?}");
}

#[test]
fn photo_over_the_pixel_limit_is_rejected() {
    let png = encode_png(&DynamicImage::ImageRgb8(gradient_image(100, 100)));
    let limits = limits_with(|l| l.max_pixels = 9_999);
    assert_eq!(
        process_photo(&png, &limits),
        Err(MediaError::TooManyPixels {
            width: 100,
            height: 100,
            max_pixels: 9_999
        })
    );
    let limits = limits_with(|l| l.max_pixels = 10_000);
    assert!(process_photo(&png, &limits).is_ok());
}

#[test]
fn png_decompression_bomb_is_rejected_from_its_header() {
    // 60000 x 60000 declared; only a few bytes of compressed data.
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let bomb = png_from_chunks(&[
        (*b"IHDR", ihdr),
        (
            *b"IDAT",
            vec![0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        ),
        (*b"IEND", vec![]),
    ]);
    assert_eq!(
        process_photo(&bomb, &Limits::default()),
        Err(MediaError::TooManyPixels {
            width: 60_000,
            height: 60_000,
            max_pixels: 40_000_000
        })
    );
}

#[test]
fn jpeg_decompression_bomb_is_rejected_from_its_header() {
    let mut jpeg = encode_jpeg(&gradient_image(16, 16));
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline SOF0");
    // FF C0, length (2), precision (1), height (2), width (2)
    jpeg[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    assert_eq!(
        process_photo(&jpeg, &Limits::default()),
        Err(MediaError::TooManyPixels {
            width: 60_000,
            height: 60_000,
            max_pixels: 40_000_000
        })
    );
}

#[test]
fn webp_decompression_bomb_is_rejected_from_its_header() {
    // VP8L header: signature, 14-bit width-1, 14-bit height-1, alpha, version.
    let (w, h) = (10_000u32, 10_000u32);
    let bits = (w - 1) | ((h - 1) << 14);
    let mut vp8l = vec![0x2F];
    vp8l.extend_from_slice(&bits.to_le_bytes());
    vp8l.extend_from_slice(&[0; 16]);
    let bomb = riff_webp(&[riff_chunk(b"VP8L", &vp8l)]);
    assert_eq!(
        process_photo(&bomb, &Limits::default()),
        Err(MediaError::TooManyPixels {
            width: w,
            height: h,
            max_pixels: 40_000_000
        })
    );
}

#[test]
fn error_messages_are_readable_english() {
    assert_eq!(
        MediaError::TooLarge {
            size: 12_582_912,
            max_bytes: 10_485_760
        }
        .to_string(),
        "photo is 12582912 bytes; the limit is 10485760 bytes"
    );
    assert_eq!(MediaError::Empty.to_string(), "photo is empty (0 bytes)");
    assert_eq!(
        MediaError::UnsupportedType.to_string(),
        "unsupported image type: only JPEG, PNG and WebP are accepted"
    );
    assert_eq!(
        MediaError::TooManyPixels {
            width: 8000,
            height: 6000,
            max_pixels: 40_000_000
        }
        .to_string(),
        "photo is 8000x6000 pixels (48000000 pixels); the limit is 40000000 pixels"
    );
    let truncated = encode_jpeg(&gradient_image(64, 64));
    let err = process_photo(&truncated[..truncated.len() - 2], &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "photo could not be decoded: the JPEG data is damaged or incomplete \
         (the file ends before the end-of-image marker)"
    );
}
