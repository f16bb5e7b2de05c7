//! `create`: validate everything, claim the name, then prepare the root
//! filesystem and volumes. Until the record says `created` it says
//! `creating` with this process as owner, so a `brig` killed half way is
//! undone by the next command.

use brig_image::ImageStore;
use brig_snapshot::Snapshotter;

use crate::cleanup;
use crate::config::{ContainerConfig, MountConfig, UsernsMode};
use crate::engine::{Engine, new_id, random_name, validate_name};
use crate::error::{Error, IoContext, Result};
use crate::host::RealHost;
use crate::image_config::ImageConfig;
use crate::options::{CreateOptions, build_config};
use crate::proc::ProcessId;
use crate::record::{ContainerRecord, State};
use crate::runtime::find_runtime;

/// First host ID of `--userns auto` ranges, and their size.
pub const USERNS_BASE: u32 = 1 << 20;
pub const USERNS_SIZE: u32 = 65_536;

/// A created container.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub name: String,
    /// Choices that weaken the container (print them).
    pub warnings: Vec<String>,
}

impl Engine {
    /// `brig create`: nothing is left behind when it fails.
    pub fn create(&self, opts: &CreateOptions) -> Result<Created> {
        if let Some(cid) = &opts.cidfile
            && cid.exists()
        {
            return Err(Error::invalid(
                "--cidfile",
                &cid.display().to_string(),
                "the file already exists; remove it or choose another",
            ));
        }
        if let Some(name) = &opts.name {
            validate_name(name)?;
        }
        let images = ImageStore::open(self.ctx.paths.root(), &self.ctx.paths.db())?;
        let image = images.resolve(&opts.image)?;
        let image_config =
            ImageConfig::from_blob(&images.config_bytes(&image)?, image.id.as_ref())?;
        crate::timing::mark("create: image resolved");
        let id = new_id();
        let runtime = find_runtime(self.runtime.as_deref())?;
        let host = RealHost { db: &self.ctx.db };
        let config = build_config(opts, &image_config, &id, &runtime, &host, &mut new_id)?;
        self.check_published_ports(&config)?;
        crate::network::check_create(&self.ctx, &config.network)?;
        let rec = ContainerRecord {
            id: id.clone(),
            name: opts.name.clone().unwrap_or_else(random_name),
            image: opts.image.clone(),
            image_id: image.id.to_string(),
            config,
            state: State::Creating,
            pid: None,
            monitor: None,
            owner: Some(ProcessId::current()),
            exit_code: None,
            oom_killed: false,
            created_at: crate::time::now_ns(),
            started_at: None,
            finished_at: None,
            restart_count: 0,
            stop_requested: false,
            health: None,
            error: None,
        };
        crate::timing::mark("create: config built");
        self.ctx.db.insert_container(&rec)?;
        crate::timing::mark("create: record inserted");
        if let Err(e) = self.prepare(&rec, &images, &image, opts) {
            let _ = cleanup::remove_container(&self.ctx, &rec, true);
            return Err(e);
        }
        crate::timing::mark("create: snapshot prepared");
        self.ctx.db.modify(&id, |r| {
            r.state = State::Created;
            r.owner = None;
            Ok(())
        })?;
        self.ctx.event(&rec, "create", &[]);
        Ok(Created {
            id,
            name: rec.name.clone(),
            warnings: rec.config.warnings.clone(),
        })
    }

    fn prepare(
        &self,
        rec: &ContainerRecord,
        images: &ImageStore,
        image: &brig_image::ImageRecord,
        opts: &CreateOptions,
    ) -> Result<()> {
        if rec.config.security.userns == UsernsMode::Auto {
            self.ctx
                .db
                .allocate_userns(&rec.id, USERNS_BASE, USERNS_SIZE)?;
        }
        let chain = self.ctx.layers()?.unpack_image(images, image)?;
        self.ctx.snapshotter()?.prepare(&rec.id, &chain)?;
        let bundle = self.ctx.paths.bundle(&rec.id);
        std::fs::create_dir_all(&bundle).ctx("create directory", &bundle)?;
        for m in &rec.config.mounts {
            if let MountConfig::Volume {
                name, anonymous, ..
            } = m
            {
                cleanup::ensure_volume(&self.ctx, name, *anonymous, Default::default())?;
            }
        }
        if let Some(cid) = &opts.cidfile {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(cid)
                .and_then(|mut f| f.write_all(rec.id.as_bytes()))
                .ctx("write --cidfile", cid)?;
        }
        Ok(())
    }

    /// `-p` host ports another container already publishes.
    fn check_published_ports(&self, config: &ContainerConfig) -> Result<()> {
        if config.ports.iter().all(|p| p.host_port == 0) {
            return Ok(());
        }
        let others = self.ctx.db.containers()?;
        for p in config.ports.iter().filter(|p| p.host_port != 0) {
            let holder = others.iter().find(|c| {
                c.config.ports.iter().any(|q| {
                    q.host_port == p.host_port
                        && q.protocol == p.protocol
                        && (q.host_ip.is_empty() || p.host_ip.is_empty() || q.host_ip == p.host_ip)
                })
            });
            if let Some(c) = holder {
                return Err(Error::invalid(
                    "-p",
                    &format!("{}:{}", p.host_port, p.container_port),
                    format!(
                        "host port {}/{} is already published by container {}; pick another",
                        p.host_port, p.protocol, c.name
                    ),
                ));
            }
        }
        Ok(())
    }
}
