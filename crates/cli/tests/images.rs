//! `brig load`, `images`, `image inspect`, `history`, `tag`, `rmi`,
//! `image prune`, `save` and `import` from a user's point of view, on
//! images made by umoci, skopeo and GNU tar.

mod common;

use common::{Brig, have_image_tools, have_tool, tool, umoci_image};
use serde_json::Value;

/// A store with `app:1` (two layers, by umoci) loaded from a docker-archive
/// that skopeo made, and the OCI layout it came from.
fn store_with_app(test: &str) -> Option<(Brig, std::path::PathBuf)> {
    if !have_image_tools(test) {
        return None;
    }
    let brig = Brig::new();
    let layout = brig.path("layout");
    umoci_image(
        brig.dir.path(),
        &layout,
        "1",
        &["hello from brig", "second layer"],
    );
    let archive = brig.path("app.tar");
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:1", layout.display()),
            &format!("docker-archive:{}:localhost/app:1", archive.display()),
        ],
    );
    let out = brig.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: localhost/app:1\n");
    Some((brig, layout))
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn load_docker_archive_lists_inspects_and_unpacks_the_image() {
    let Some((brig, _)) =
        store_with_app("load_docker_archive_lists_inspects_and_unpacks_the_image")
    else {
        return;
    };
    let table = brig.ok(&["images"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{table}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with("localhost/app   1 "), "{table}");
    let rows = json_lines(&brig.ok(&["images", "--format", "json"]));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Repository"], "localhost/app");
    assert_eq!(rows[0]["Tag"], "1");
    let short = rows[0]["ID"].as_str().unwrap().to_owned();
    assert_eq!(short.len(), 12);
    assert_eq!(brig.ok(&["images", "-q"]), format!("{short}\n"));
    assert_eq!(
        brig.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/app:1\n"
    );

    let doc: Value =
        serde_json::from_str(&brig.ok(&["image", "inspect", "localhost/app:1"])).unwrap();
    let image = &doc[0];
    assert!(
        image["Id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("sha256:{short}"))
    );
    assert_eq!(image["RepoTags"], serde_json::json!(["localhost/app:1"]));
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["/bin/hello"]));
    assert!(
        image["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "FOO=bar")
    );
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(image["Os"], "linux");
    assert_eq!(
        brig.ok(&["image", "inspect", "-f", "{{.Config.Cmd}}", &short]),
        "[/bin/hello]\n"
    );

    // Ready to run: both layers are unpacked, with the files umoci put in.
    let lower = image["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap();
    let dirs: Vec<&str> = lower.split(':').collect();
    assert_eq!(dirs.len(), 2);
    let base = std::path::Path::new(dirs[1]);
    assert_eq!(
        std::fs::read_to_string(base.join("hello.txt")).unwrap(),
        "hello from brig"
    );
    assert_eq!(
        std::fs::read_link(base.join("greeting")).unwrap().to_str(),
        Some("hello.txt")
    );
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(dirs[0]).join("layer1.txt")).unwrap(),
        "second layer"
    );
}

#[test]
fn load_reads_oci_layouts_oci_archives_and_stdin() {
    let test = "load_reads_oci_layouts_oci_archives_and_stdin";
    if !have_image_tools(test) {
        return;
    }
    let brig = Brig::new();
    let layout = brig.path("layout");
    umoci_image(brig.dir.path(), &layout, "v1", &["one"]);
    // umoci names the image only by tag: it is loaded by ID.
    let out = brig.ok(&["load", "-i", layout.to_str().unwrap()]);
    assert!(out.starts_with("Loaded image ID: sha256:"), "{out}");
    let oci_archive = brig.path("app.oci.tar");
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:v1", layout.display()),
            &format!(
                "oci-archive:{}:example.com/team/app:v1",
                oci_archive.display()
            ),
        ],
    );
    assert_eq!(
        brig.ok(&["image", "load", "--input", oci_archive.to_str().unwrap()]),
        "Loaded image: example.com/team/app:v1\n"
    );
    // The same image: one ID, now with a name.
    assert_eq!(brig.image_ids().len(), 1);

    let docker_archive = brig.path("app.tar");
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker-archive:{}:piped:v1", docker_archive.display()),
        ],
    );
    let gz = brig.path("app.tar.gz");
    tool(
        "sh",
        &[
            "-c",
            &format!("gzip -c {} > {}", docker_archive.display(), gz.display()),
        ],
    );
    let r = brig.run_with_stdin(&["load", "-q"], &std::fs::read(&gz).unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "Loaded image: piped:v1\n");
    assert!(r.stderr.is_empty(), "-q prints no progress: {}", r.stderr);
}

#[test]
fn history_shows_the_build_steps_newest_first() {
    let Some((brig, _)) = store_with_app("history_shows_the_build_steps_newest_first") else {
        return;
    };
    let out = brig.ok(&["history", "localhost/app:1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("IMAGE"), "{out}");
    assert!(lines[1].contains("brig test config"), "{out}");
    assert_eq!(lines.len(), 4, "config step + 2 layers + header: {out}");
    let rows = json_lines(&brig.ok(&["history", "--format", "json", "localhost/app:1"]));
    assert_eq!(rows[2]["CreatedBy"], "umoci raw add-layer");
    assert_eq!(rows[1]["ID"], "<missing>");
    assert_ne!(rows[2]["Size"], "0B");
}

#[test]
fn tag_adds_names_and_rmi_untags_before_it_deletes() {
    let Some((brig, _)) = store_with_app("tag_adds_names_and_rmi_untags_before_it_deletes") else {
        return;
    };
    let r = brig.run(&["tag", "localhost/app:1", "localhost/app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("latest"),
        "warns about latest: {}",
        r.stderr
    );
    brig.ok(&["tag", "localhost/app:1", "example.com/app:2"]);
    let names = brig.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for n in [
        "localhost/app:1",
        "localhost/app:latest",
        "example.com/app:2",
    ] {
        assert!(names.contains(n), "{names}");
    }
    assert_eq!(brig.image_ids().len(), 1, "tags share the image");
    let layers = brig.layer_dirs().len();

    assert_eq!(
        brig.ok(&["rmi", "example.com/app:2"]),
        "Untagged: example.com/app:2\n"
    );
    assert_eq!(brig.layer_dirs().len(), layers, "an untag keeps the layers");
    // By ID with several names: refused without -f.
    let id = brig.image_ids()[0].clone();
    brig.fails(&["rmi", &id], &["several names"]);
    let out = brig.ok(&["rmi", "-f", &id]);
    assert!(out.contains("Untagged: localhost/app:1"), "{out}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    brig.assert_empty("rmi -f");
}

#[test]
fn prune_removes_unnamed_images_and_with_all_every_image() {
    let Some((brig, _)) = store_with_app("prune_removes_unnamed_images_and_with_all_every_image")
    else {
        return;
    };
    let other = brig.path("other-layout");
    umoci_image(brig.dir.path(), &other, "other", &["something else"]);
    brig.ok(&["load", "-i", other.to_str().unwrap()]);
    assert_eq!(brig.image_ids().len(), 2);
    let dangling = brig.ok(&["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(
        dangling.lines().count(),
        1,
        "umoci's bare tag is no name: {dangling}"
    );
    let layers_before = brig.layer_dirs().len();
    let out = brig.ok(&["image", "prune", "-f"]);
    assert!(out.contains("deleted: sha256:"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(brig.image_ids().len(), 1);
    assert_eq!(brig.ok(&["images", "--format", "{{.Tag}}"]), "1\n");
    assert_eq!(
        brig.layer_dirs().len(),
        layers_before - 1,
        "its layer went too"
    );
    // Without -f and no "y" on stdin, nothing happens.
    brig.ok(&["image", "prune", "-a"]);
    assert_eq!(brig.image_ids().len(), 1);
    brig.ok(&["image", "prune", "-a", "-f"]);
    brig.assert_empty("image prune -a");
}

#[test]
fn save_writes_archives_that_skopeo_and_umoci_read_back() {
    let Some((brig, _)) = store_with_app("save_writes_archives_that_skopeo_and_umoci_read_back")
    else {
        return;
    };
    let docker = brig.path("out/docker.tar");
    std::fs::create_dir_all(brig.path("out")).unwrap();
    brig.ok(&["save", "-o", docker.to_str().unwrap(), "localhost/app:1"]);
    let inspect: Value = serde_json::from_str(&tool(
        "skopeo",
        &["inspect", &format!("docker-archive:{}", docker.display())],
    ))
    .unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
    assert!(
        inspect["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "FOO=bar")
    );

    let oci = brig.path("out/oci.tar");
    brig.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        oci.to_str().unwrap(),
        "localhost/app:1",
    ]);
    let layout = brig.path("out/from-archive");
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci-archive:{}", oci.display()),
            &format!("oci:{}:copy", layout.display()),
        ],
    );
    let dir = brig.path("out/layout");
    brig.ok(&[
        "image",
        "save",
        "--format",
        "oci-dir",
        "-o",
        dir.to_str().unwrap(),
        "localhost/app:1",
    ]);
    let listed = tool("umoci", &["ls", "--layout", dir.to_str().unwrap()]);
    assert_eq!(listed.trim(), "localhost/app:1");
    let unpacked = brig.path("out/bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:localhost/app:1", dir.display()),
            unpacked.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(unpacked.join("rootfs/hello.txt")).unwrap(),
        "hello from brig"
    );

    // Round trip through stdout into another store.
    let out = brig.command(&["save", "localhost/app:1"]).output().unwrap();
    assert!(out.status.success());
    let other = Brig::new();
    let r = other.run_with_stdin(&["load"], &out.stdout);
    assert_eq!(r.stdout, "Loaded image: localhost/app:1\n", "{}", r.stderr);
    assert_eq!(other.image_ids(), brig.image_ids(), "same config, same ID");
}

#[test]
fn save_refuses_a_terminal_or_a_stream_for_a_directory() {
    let brig = Brig::new();
    brig.fails(&["save", "--format", "oci-dir", "x"], &["-o DIR"]);
    brig.assert_empty("save --format oci-dir without -o");
}

#[test]
fn import_makes_a_ready_image_with_changes_from_a_tar_tarball() {
    let test = "import_makes_a_ready_image_with_changes_from_a_tar_tarball";
    if !have_tool("tar", test) {
        return;
    }
    let brig = Brig::new();
    let rootfs = brig.path("rootfs");
    common::make_rootfs(&rootfs, "imported");
    let tarball = brig.path("rootfs.tar.gz");
    tool(
        "tar",
        &[
            "-C",
            rootfs.to_str().unwrap(),
            "-czf",
            tarball.to_str().unwrap(),
            ".",
        ],
    );
    let r = brig.run(&[
        "import",
        "--change",
        "CMD [\"/bin/sh\", \"-c\", \"cat /hello.txt\"]",
        "-c",
        "ENV=LANG=C.UTF-8",
        "-c",
        "WORKDIR=/srv",
        "-m",
        "from a tarball",
        tarball.to_str().unwrap(),
        "mybase:1.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    assert!(id.starts_with("sha256:"), "{}", r.stdout);
    assert!(
        r.stderr.is_empty(),
        "a pinned tag draws no warning: {}",
        r.stderr
    );
    let doc: Value = serde_json::from_str(&brig.ok(&["image", "inspect", "mybase:1.0"])).unwrap();
    let config = &doc[0]["Config"];
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "cat /hello.txt"])
    );
    assert_eq!(config["WorkingDir"], "/srv");
    assert!(
        config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "LANG=C.UTF-8")
    );
    let layer = doc[0]["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(layer).join("hello.txt")).unwrap(),
        "imported"
    );
    let history = json_lines(&brig.ok(&["history", "--format", "json", "mybase:1.0"]));
    assert_eq!(history[0]["Comment"], "from a tarball");

    // From stdin, without a name: known by ID; a plain tar gives the same layer content.
    let plain = brig.path("rootfs.tar");
    tool(
        "tar",
        &[
            "-C",
            rootfs.to_str().unwrap(),
            "-cf",
            plain.to_str().unwrap(),
            ".",
        ],
    );
    let r = brig.run_with_stdin(&["import", "-"], &std::fs::read(&plain).unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(brig.image_ids().len(), 2);
}
