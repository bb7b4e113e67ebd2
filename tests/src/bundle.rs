//! Bundles built in memory: files (path, content, mode) as a directory, a tar or a tgz.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// Writes the files (path, content, mode) under `root`.
pub fn write_dir<P: AsRef<Path>, C: AsRef<[u8]>>(root: &Path, files: &[(P, C, u32)]) {
    for (path, content, mode) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create_dir_all");
        std::fs::write(&path, content).expect("write a bundle file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))
            .expect("set_permissions");
    }
}

fn append<W: std::io::Write, P: AsRef<Path>, C: AsRef<[u8]>>(
    builder: &mut tar::Builder<W>,
    files: &[(P, C, u32)],
) {
    for (path, content, mode) in files {
        let content = content.as_ref();
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, content)
            .expect("append to the tar");
    }
}

/// The files (path, content, mode) as a tar.
pub fn tar<P: AsRef<Path>, C: AsRef<[u8]>>(files: &[(P, C, u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, files);
    builder.into_inner().expect("finish the tar")
}

/// The files (path, content, mode) as a tgz.
pub fn tgz<P: AsRef<Path>, C: AsRef<[u8]>>(files: &[(P, C, u32)]) -> Vec<u8> {
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gzip);
    append(&mut builder, files);
    builder
        .into_inner()
        .expect("finish the tar")
        .finish()
        .expect("finish the gzip")
}
