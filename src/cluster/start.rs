//! `start`: validate everything first, then create or resume the network, volume and node
//! container, wait for a Ready node, and point the kubeconfig at it.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::time::Duration;

use bollard::models::VolumeCreateRequest;
use bollard::Docker;

use super::docker::{is_not_found, DockerError, PROFILE_LABEL};
use super::image::{self, ImageError};
use super::kubeconfig::{self, KubeconfigError};
use super::network::{self, NetworkError};
use super::node_container::{self, STATE_DIR};
use super::profile::{self, ProfileError, Settings};
use super::wait::WaitFor;
use crate::pki::{Ca, CertPair, PkiError};

/// The Kubernetes version rkube serves.
pub fn kubernetes_version() -> String {
    format!(
        "v{}.{}.0",
        crate::apiserver::KUBE_MAJOR,
        crate::apiserver::KUBE_MINOR
    )
}

/// Least memory a node may be given, in MiB: the control plane needs tens of MiB, pods more.
pub const MIN_MEMORY_MB: u64 = 256;

/// Most nodes a cluster may have: each is a container on the same Docker.
pub const MAX_NODES: u32 = 20;

/// What the user asked `start` for.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Profile name.
    pub profile: String,
    /// `--cpus`.
    pub cpus: Option<u32>,
    /// `--memory`, as given.
    pub memory: Option<String>,
    /// `--ports H:C`.
    pub ports: Vec<String>,
    /// `--subnet`.
    pub subnet: Option<String>,
    /// `--kubernetes-version`.
    pub kubernetes_version: Option<String>,
    /// What `--wait` asked for.
    pub wait: WaitFor,
    /// How long to wait for it.
    pub wait_timeout: Duration,
    /// `--addons`: addons to switch on besides the profile's.
    pub addons: Vec<String>,
    /// `--nodes`: how many nodes a new cluster gets (the control plane and workers).
    pub nodes: Option<u32>,
    /// `--extra-config`: component settings a new cluster gets.
    pub extra_config: Vec<String>,
    /// `--pod-security`: the cluster-wide Pod Security level of a new cluster.
    pub pod_security: Option<String>,
}

/// Why `start` failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A flag has a value rkube cannot use; nothing was created.
    #[error("{0}")]
    Invalid(String),
    /// Docker could not be used.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The node image could not be built.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The network could not be prepared.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// Profile files failed.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Certificates failed.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The kubeconfig could not be written.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// An addon could not be switched on.
    #[error("enabling addon {name}: {source}")]
    Addon {
        /// The addon.
        name: String,
        /// The cause.
        source: Box<super::addons::AddonError>,
    },
    /// The node did not come up.
    #[error("the node did not become ready: {message}\n{logs}\nSee `rkube logs -p {profile}`; `rkube delete -p {profile}` then `rkube start` starts afresh")]
    NotReady {
        /// Profile.
        profile: String,
        /// What was last seen.
        message: String,
        /// The node's last log lines.
        logs: String,
    },
}

impl From<bollard::errors::Error> for StartError {
    fn from(e: bollard::errors::Error) -> Self {
        StartError::Docker(DockerError::Api(e))
    }
}

/// How `start` ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// A new cluster was created.
    Created,
    /// A stopped cluster was started again.
    Resumed,
    /// It was running already; nothing changed but the kubeconfig.
    AlreadyRunning,
}

/// Parse a memory size the way minikube does: `2048` (MiB), `2g`, `2gb`, `512m`, `512mb`.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let t = s.trim().to_lowercase();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid memory size {s:?}: use a number of MiB or a size like 2g"))?;
    let mb = match unit.trim() {
        "" | "m" | "mb" | "mi" | "mib" => n,
        "g" | "gb" | "gi" | "gib" => n * 1024,
        _ => {
            return Err(format!(
                "invalid memory size {s:?}: unknown unit {unit:?} (use m or g)"
            ))
        }
    };
    Ok(mb)
}

pub(crate) fn check_version(asked: Option<&str>) -> Result<String, StartError> {
    let served = kubernetes_version();
    match asked {
        None | Some("stable") | Some("latest") => Ok(served),
        Some(v) => {
            let norm = if v.starts_with('v') {
                v.to_string()
            } else {
                format!("v{v}")
            };
            let minor = served
                .rsplit_once('.')
                .map(|(m, _)| m.to_string())
                .unwrap_or_default();
            if norm == served || norm == minor {
                Ok(served)
            } else {
                Err(StartError::Invalid(format!(
                    "Kubernetes {norm} is not supported: rkube serves {served}; drop --kubernetes-version or pass {served}"
                )))
            }
        }
    }
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn free_port() -> Result<u16, StartError> {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| StartError::Invalid(format!("no free port on 127.0.0.1: {e}")))
}

fn check_ports(ports: &[String]) -> Result<(), StartError> {
    for p in ports {
        let parsed = p
            .split_once(':')
            .and_then(|(h, c)| Some((h.parse::<u16>().ok()?, c.parse::<u16>().ok()?)))
            .filter(|(h, c)| *h > 0 && *c > 0);
        let Some((host, _)) = parsed else {
            return Err(StartError::Invalid(format!(
                "invalid --ports value {p:?}: use HOST:CONTAINER, for example 8080:80"
            )));
        };
        if !port_free(host) {
            return Err(StartError::Invalid(format!(
                "port {host} on 127.0.0.1 is already in use: free it or choose another in --ports"
            )));
        }
    }
    Ok(())
}

/// Whatever the user's kubeconfig needs to reach the profile as its admin.
pub struct Credentials {
    /// CA certificate, PEM.
    pub ca_pem: String,
    /// Admin client certificate.
    pub admin: CertPair,
}

/// The profile's CA (created on first use) and admin certificate.
pub fn credentials(profile_name: &str) -> Result<(Ca, Credentials), PkiError> {
    let ca = Ca::load_or_create(&profile::pki_dir(profile_name), "rkubeCA")?;
    let admin = ca.client_cert("admin", "rkube-user", &["system:masters"])?;
    let creds = Credentials {
        ca_pem: ca.cert_pem().to_string(),
        admin,
    };
    Ok((ca, creds))
}

/// `https://127.0.0.1:<port>` for a profile.
pub fn server_url(s: &Settings) -> String {
    format!("https://127.0.0.1:{}", s.api_port)
}

/// Point the kubeconfig at the profile (context named after it, made current).
pub fn write_kubeconfig(s: &Settings, creds: &Credentials) -> Result<(), KubeconfigError> {
    kubeconfig::merge(
        &kubeconfig::default_path(),
        &kubeconfig::Entry {
            name: &s.name,
            server: &server_url(s),
            ca_pem: &creds.ca_pem,
            cert_pem: &creds.admin.cert_pem,
            key_pem: &creds.admin.key_pem,
        },
    )
}

/// An admin client of the profile's API server.
pub async fn admin_client(s: &Settings, creds: &Credentials) -> Result<kube::Client, String> {
    crate::controllers::upgradable_client(&server_url(s), &creds.ca_pem, &creds.admin)
        .await
        .map_err(|e| e.to_string())
}

async fn docker_resources(docker: &Docker) -> (u32, u64) {
    match docker.info().await {
        Ok(info) => (
            info.ncpu.unwrap_or(2).max(1) as u32,
            (info.mem_total.unwrap_or(4 << 30) as u64) >> 20,
        ),
        Err(_) => (2, 4096),
    }
}

/// Validate, then create or resume the profile. `step` receives minikube-style lines.
pub async fn start(req: &Request, mut step: impl FnMut(&str, &str)) -> Result<Outcome, StartError> {
    profile::validate_name(&req.profile).map_err(|e| StartError::Invalid(e.to_string()))?;
    let version = check_version(req.kubernetes_version.as_deref())?;
    for name in &req.addons {
        if crate::addons::catalog::find(name).is_none() {
            return Err(StartError::Invalid(format!(
                "--addons: {}",
                crate::addons::catalog::unknown(name)
            )));
        }
    }
    if let Some(n) = req.nodes {
        if !(1..=MAX_NODES).contains(&n) {
            return Err(StartError::Invalid(format!(
                "--nodes={n}: a cluster has 1 to {MAX_NODES} nodes"
            )));
        }
    }
    let memory_mb = req
        .memory
        .as_deref()
        .map(parse_memory)
        .transpose()
        .map_err(StartError::Invalid)?;
    let docker = super::docker::connect().await?;
    let saved = profile::load(&req.profile)?;
    // `docker info` is the engine's slowest read; resuming a profile without --cpus or
    // --memory does not need it, and reads neither figure.
    let (host_cpus, host_mem) = if saved.is_none() || memory_mb.is_some() || req.cpus.is_some() {
        docker_resources(&docker).await
    } else {
        (0, 0)
    };
    if let Some(m) = memory_mb {
        if m < MIN_MEMORY_MB {
            return Err(StartError::Invalid(format!(
                "requested memory {m}MiB is less than the usable minimum of {MIN_MEMORY_MB}MiB: pass --memory={MIN_MEMORY_MB}m or more"
            )));
        }
        if m > host_mem {
            return Err(StartError::Invalid(format!(
                "requested memory {m}MiB is more than Docker has ({host_mem}MiB): pass a smaller --memory"
            )));
        }
    }
    if let Some(c) = req.cpus {
        if c == 0 || c > host_cpus {
            return Err(StartError::Invalid(format!(
                "requested {c} CPUs but Docker has {host_cpus}: pass --cpus between 1 and {host_cpus}"
            )));
        }
    }

    let existing = node_container::inspect(&docker, &req.profile).await?;
    if let (Some(s), Some(node)) = (&saved, &existing) {
        if node.running {
            step(
                "✅",
                &format!("\"{}\" is already running; nothing to do", s.name),
            );
            warn_creation_flags(req, s, &mut step);
            let (_, creds) = credentials(&s.name)?;
            write_kubeconfig(s, &creds)?;
            if !req.addons.is_empty() {
                let mut s = s.clone();
                for name in &req.addons {
                    s.set_addon(name, true);
                }
                profile::save(&s)?;
                enable_addons(&docker, &s, &creds, req, &mut step).await?;
            }
            return Ok(Outcome::AlreadyRunning);
        }
    }
    let ports_to_check: Vec<String> = match &saved {
        Some(s) => s.ports.clone(),
        None => req.ports.clone(),
    };
    check_ports(&ports_to_check)?;

    step(
        "😄",
        &format!(
            "rkube v{} on {}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS
        ),
    );
    step("✨", "Using the docker driver");
    let tag = ensure_images(&docker, &mut step).await?;
    let echo = image::ECHO_SERVER.tag()?;
    // The tutorials' `--image=kicbase/echo-server:1.0` finds it with no registry.
    let mut aliases = vec![(echo, image::ECHO_SERVER_ALIAS)];
    for (alias, version) in image::HELLO_APP_ALIASES {
        aliases.push((hello_app_variant(version)?, alias));
    }
    futures::future::try_join_all(
        aliases
            .iter()
            .map(|(tag, alias)| image::alias(&docker, tag, alias)),
    )
    .await?;

    let outcome;
    let settings = match saved {
        Some(mut s) => {
            if let Some(ref node) = existing {
                if !port_free(s.api_port) && !node.running {
                    return Err(StartError::Invalid(format!(
                        "the API port {} of \"{}\" is in use by another program: stop it, or `rkube delete -p {}` and start again",
                        s.api_port, s.name, s.name
                    )));
                }
            }
            step(
                "👍",
                &format!(
                    "Starting \"{}\" primary control-plane node in \"{}\" cluster",
                    s.name, s.name
                ),
            );
            ensure_network(&docker, &s).await?;
            ensure_volume(&docker, &s.name, &s.name).await?;
            let needs_new_container = match &existing {
                None => true,
                Some(node) => node.image != tag,
            };
            s.image = tag.clone();
            for name in &req.addons {
                s.set_addon(name, true);
            }
            if needs_new_container {
                if let Some(node) = &existing {
                    // The binary changed: a new container on the same volume, IP and port.
                    node_container::remove(&docker, &node.id).await?;
                }
                step(
                    "🔄",
                    &format!("Recreating the docker container for \"{}\" ...", s.name),
                );
                create_node(&docker, &s).await?;
            } else {
                step(
                    "🔄",
                    &format!(
                        "Restarting existing docker container for \"{}\" ...",
                        s.name
                    ),
                );
            }
            profile::save(&s)?;
            outcome = Outcome::Resumed;
            s
        }
        None => {
            step(
                "👍",
                &format!(
                    "Starting \"{0}\" primary control-plane node in \"{0}\" cluster",
                    req.profile
                ),
            );
            if existing.is_some() {
                return Err(StartError::Invalid(format!(
                    "a container \"{0}\" labelled for this profile exists but the profile's settings are gone: `rkube delete -p {0}` and start again",
                    req.profile
                )));
            }
            let net_name = profile::network_name(&req.profile);
            let layout = match network::existing(&docker, &net_name).await? {
                Some(subnet) => network::layout(&subnet)?,
                None => {
                    create_network(&docker, &net_name, &req.profile, req.subnet.as_deref()).await?
                }
            };
            let s = Settings {
                name: req.profile.clone(),
                cpus: req.cpus.unwrap_or(host_cpus),
                memory_mb: memory_mb.unwrap_or(host_mem),
                subnet: layout.subnet.clone(),
                node_ip: layout.node_ip.to_string(),
                service_cidr: layout.service_cidr.clone(),
                api_port: free_port()?,
                ports: req.ports.clone(),
                kubernetes_version: version.clone(),
                image: tag.clone(),
                addons: Some(
                    crate::addons::catalog::defaults()
                        .into_iter()
                        .chain(req.addons.iter().cloned())
                        .map(|n| (n, true))
                        .collect(),
                ),
                workers: Vec::new(),
                extra_config: req.extra_config.clone(),
                pod_security: req.pod_security.clone(),
            };
            step(
                "🔥",
                &format!(
                    "Creating docker container (CPUs={}, Memory={}MB) ...",
                    s.cpus, s.memory_mb
                ),
            );
            ensure_volume(&docker, &s.name, &s.name).await?;
            profile::save(&s)?;
            create_node(&docker, &s).await?;
            outcome = Outcome::Created;
            s
        }
    };
    match docker.start_container(&settings.name, None).await {
        Err(e) if !super::docker::is_not_modified(&e) => return Err(e.into()),
        _ => {}
    }
    // Tidying up old images needs nothing from the node: it runs while the node boots.
    let pruning = tokio::spawn({
        let docker = docker.clone();
        async move { super::image_gc::prune(&docker).await }
    });
    step(
        "🐳",
        &format!("Preparing Kubernetes {} ...", settings.kubernetes_version),
    );
    let (_, creds) = credentials(&settings.name)?;
    if !req.wait.is_empty() {
        step("🔎", "Verifying Kubernetes components...");
        wait_ready(&docker, &settings, &creds, req).await?;
    }
    let settings = start_workers(
        &docker,
        settings,
        &creds,
        req,
        outcome == Outcome::Created,
        &mut step,
    )
    .await?;
    write_kubeconfig(&settings, &creds)?;
    enable_addons(&docker, &settings, &creds, req, &mut step).await?;
    // Best effort: a failure to tidy up must not fail a start that worked.
    let pruned = match pruning.await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match pruned {
        Ok(p) if !p.tags.is_empty() => step(
            "🧹",
            &format!(
                "Removed {} image tag(s) of earlier rkube builds ({} MB)",
                p.tags.len(),
                p.bytes >> 20
            ),
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "removing images of earlier builds"),
    }
    step(
        "🏄",
        &format!(
            "Done! kubectl is now configured to use \"{}\" cluster and \"default\" namespace by default",
            settings.name
        ),
    );
    Ok(outcome)
}

/// Start the saved workers, or create the ones `--nodes` asks of a new cluster, and wait
/// for each to be Ready (unless `--wait` asks for nothing).
/// Say so when flags that only a new cluster takes differ from the existing one's.
fn warn_creation_flags(req: &Request, s: &Settings, step: &mut impl FnMut(&str, &str)) {
    if req.pod_security.is_some() && req.pod_security != s.pod_security {
        step(
            "❗",
            &format!(
                "--pod-security applies when a cluster is created: label namespaces with pod-security.kubernetes.io/enforce, or `rkube delete -p {}` and start again",
                s.name
            ),
        );
    }
    if !req.extra_config.is_empty() && req.extra_config != s.extra_config {
        step(
            "❗",
            &format!(
                "--extra-config applies when a cluster is created: `rkube delete -p {}` and start again to change it",
                s.name
            ),
        );
    }
}

async fn start_workers(
    docker: &Docker,
    mut s: Settings,
    creds: &Credentials,
    req: &Request,
    created: bool,
    step: &mut impl FnMut(&str, &str),
) -> Result<Settings, StartError> {
    let mut started = Vec::new();
    for w in s.workers.clone() {
        step(
            "👍",
            &format!(
                "Starting \"{}\" worker node in \"{}\" cluster",
                w.name, s.name
            ),
        );
        super::nodes::start(docker, &s, &w).await?;
        started.push(w.name);
    }
    let wanted = req.nodes.unwrap_or(1).max(1) as usize;
    if created {
        while 1 + s.workers.len() < wanted {
            let w = super::nodes::plan(docker, &s).await?;
            step(
                "👍",
                &format!(
                    "Starting \"{}\" worker node in \"{}\" cluster",
                    w.name, s.name
                ),
            );
            step(
                "🔥",
                &format!(
                    "Creating docker container (CPUs={}, Memory={}MB) ...",
                    s.cpus, s.memory_mb
                ),
            );
            super::nodes::create(docker, &s, &w).await?;
            started.push(w.name.clone());
            s.workers.push(w);
            profile::save(&s)?;
        }
    } else if req.nodes.is_some() && wanted != 1 + s.workers.len() {
        step(
            "❗",
            &format!(
                "You cannot change the number of nodes of an existing cluster: use `rkube node add -p {0}` or `rkube node delete -p {0} NAME`",
                s.name
            ),
        );
    }
    if !created {
        warn_creation_flags(req, &s, step);
    }
    if !req.wait.is_empty() && !started.is_empty() {
        let client = admin_client(&s, creds).await.map_err(StartError::Invalid)?;
        for name in &started {
            if let Err(message) = super::nodes::wait_ready(&client, name, req.wait_timeout).await {
                return Err(StartError::NotReady {
                    profile: s.name.clone(),
                    message,
                    logs: node_logs(docker, name, 20).await,
                });
            }
        }
    }
    Ok(s)
}

/// Switch on the profile's addons (re-applying those already on, which brings them up to
/// date with this binary), as minikube does at the end of `start`.
async fn enable_addons(
    docker: &Docker,
    s: &Settings,
    creds: &Credentials,
    req: &Request,
    step: &mut impl FnMut(&str, &str),
) -> Result<(), StartError> {
    let names = s.enabled_addons();
    let addons: Vec<_> = names
        .iter()
        .filter_map(|n| crate::addons::catalog::find(n))
        .collect();
    if addons.is_empty() {
        return Ok(());
    }
    let failed = |name: &str| {
        let name = name.to_string();
        move |source| StartError::Addon {
            name,
            source: Box::new(source),
        }
    };
    let mut images = Vec::new();
    for a in &addons {
        images.push(
            super::addons::ensure_images(docker, a, |line| step("🚜", line))
                .await
                .map_err(failed(&a.name))?,
        );
    }
    let client = admin_client(s, creds)
        .await
        .map_err(|message| StartError::NotReady {
            profile: s.name.clone(),
            message,
            logs: String::new(),
        })?;
    let patience = req.wait_timeout.min(Duration::from_secs(120));
    // Addons own disjoint objects, so they are applied side by side.
    futures::future::try_join_all(addons.iter().zip(&images).map(|(a, built)| {
        let client = &client;
        async move {
            super::addons::enable(client, a, built, patience)
                .await
                .map_err(failed(&a.name))
        }
    }))
    .await?;
    let shown: Vec<&str> = addons.iter().map(|a| a.name.as_str()).collect();
    step("🌟", &format!("Enabled addons: {}", shown.join(", ")));
    Ok(())
}

/// The tag of hello-app at `version` (the ingress tutorial's `hello-app:1.0` and `:2.0`).
fn hello_app_variant(version: &str) -> Result<String, ImageError> {
    Ok(format!("{}-v{version}", image::HELLO_APP.tag()?))
}

/// Make the images every cluster uses that this binary has not made yet: the node,
/// echo-server and hello-app with its versions. The root goes first, then the commits on
/// it all at once (each costs the engine a sync, not CPU). The node image's tag.
async fn ensure_images(
    docker: &Docker,
    step: &mut impl FnMut(&str, &str),
) -> Result<String, StartError> {
    // What to call it, which image, its ENV over the image's own, and its tag.
    type Wanted<'a> = (String, image::BinaryImage, Vec<(&'a str, &'a str)>, String);
    let mut wanted: Vec<Wanted> = vec![
        ("node".into(), image::NODE, vec![], image::NODE.tag()?),
        (
            "echo-server".into(),
            image::ECHO_SERVER,
            vec![],
            image::ECHO_SERVER.tag()?,
        ),
        (
            "hello-app".into(),
            image::HELLO_APP,
            vec![],
            image::HELLO_APP.tag()?,
        ),
    ];
    for (_, version) in image::HELLO_APP_ALIASES {
        wanted.push((
            format!("hello-app {version}"),
            image::HELLO_APP,
            vec![("VERSION", *version)],
            hello_app_variant(version)?,
        ));
    }
    let present =
        futures::future::try_join_all(wanted.iter().map(|w| image::exists(docker, &w.3))).await?;
    let mut missing = Vec::new();
    for (w, present) in wanted.into_iter().zip(present) {
        if !present {
            step("🚜", &format!("Building the {} image {} ...", w.0, w.3));
            missing.push(w);
        }
    }
    if !missing.is_empty() {
        super::image_commit::ensure_base(docker).await?;
        futures::future::try_join_all(
            missing
                .iter()
                .map(|(_, which, env, tag)| which.ensure_variant(docker, env, tag)),
        )
        .await?;
    }
    Ok(image::NODE.tag()?)
}

async fn create_node(docker: &Docker, s: &Settings) -> Result<(), StartError> {
    node_container::create(docker, s).await?;
    // The node's API server uses the profile's CA, so the host can issue the admin's
    // certificate and every restart keeps the same trust.
    let (ca, _) = credentials(&s.name)?;
    let ca_key =
        std::fs::read(profile::pki_dir(&s.name).join("ca.key")).map_err(|source| PkiError::Io {
            path: profile::pki_dir(&s.name).join("ca.key"),
            source,
        })?;
    node_container::upload(
        docker,
        &s.name,
        STATE_DIR,
        &[
            ("pki/ca.crt", ca.cert_pem().as_bytes(), 0o644),
            ("pki/ca.key", &ca_key, 0o600),
        ],
    )
    .await?;
    Ok(())
}

/// Choose a free subnet and create the network; another `start` racing for the same
/// subnet makes Docker refuse the overlap, so choose again.
async fn create_network(
    docker: &Docker,
    name: &str,
    profile_name: &str,
    asked: Option<&str>,
) -> Result<network::Layout, StartError> {
    let mut tries = 0;
    loop {
        let l = network::choose(docker, asked).await?;
        match network::create(docker, name, profile_name, &l).await {
            Ok(()) => return Ok(l),
            Err(NetworkError::Docker(e))
                if asked.is_none() && tries < 5 && e.to_string().contains("overlap") =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn ensure_network(docker: &Docker, s: &Settings) -> Result<(), StartError> {
    let name = profile::network_name(&s.name);
    if network::existing(docker, &name).await?.is_none() {
        let l = network::layout(&s.subnet)?;
        network::create(docker, &name, &s.name, &l).await?;
    }
    Ok(())
}

/// The state volume of node `node` of the profile, created if missing.
pub(crate) async fn ensure_volume(
    docker: &Docker,
    profile_name: &str,
    node: &str,
) -> Result<(), StartError> {
    let name = profile::volume_name(node);
    match docker.inspect_volume(&name).await {
        Ok(_) => return Ok(()),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(name),
            labels: Some(HashMap::from([(
                PROFILE_LABEL.to_string(),
                profile_name.to_string(),
            )])),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// The last lines the node container wrote, for error messages.
pub async fn node_logs(docker: &Docker, name: &str, lines: usize) -> String {
    use futures::StreamExt;
    let mut stream = docker.logs(
        name,
        Some(bollard::query_parameters::LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        }),
    );
    let mut out = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    out
}

async fn wait_ready(
    docker: &Docker,
    s: &Settings,
    creds: &Credentials,
    req: &Request,
) -> Result<(), StartError> {
    let fail = |message: String| async move {
        StartError::NotReady {
            profile: s.name.clone(),
            message,
            logs: node_logs(docker, &s.name, 20).await,
        }
    };
    let client = admin_client(s, creds).await.map_err(StartError::Invalid)?;
    let alive = async || match node_container::inspect(docker, &s.name).await {
        Ok(Some(state)) if !state.running => Err("the node container exited".to_string()),
        _ => Ok(()),
    };
    match req
        .wait
        .until_healthy(&client, &s.name, req.wait_timeout, alive)
        .await
    {
        Ok(()) => Ok(()),
        Err(reason) => Err(fail(reason).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("2048").unwrap(), 2048);
        assert_eq!(parse_memory("2g").unwrap(), 2048);
        assert_eq!(parse_memory("512MB").unwrap(), 512);
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("2t").is_err());
    }

    #[test]
    fn versions() {
        let v = kubernetes_version();
        assert_eq!(check_version(None).unwrap(), v);
        assert_eq!(check_version(Some(&v)).unwrap(), v);
        assert_eq!(check_version(Some(v.trim_start_matches('v'))).unwrap(), v);
        let err = check_version(Some("v1.20.0")).unwrap_err().to_string();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn ports() {
        assert!(check_ports(&["x".into()]).is_err());
        assert!(check_ports(&["0:80".into()]).is_err());
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let used = l.local_addr().unwrap().port();
        let err = check_ports(&[format!("{used}:80")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("already in use"), "{err}");
    }
}
