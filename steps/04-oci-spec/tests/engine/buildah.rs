//! Buildah 1.28: `buildah run` and a build's `RUN` steps, with `--runtime`
//! and `--isolation oci`, in the Podman scenarios' storage.

use std::fs;
use std::process::Command;

use super::{expect_all, said, same, Podman, Runtime, Said};

pub struct Buildah<'a> {
    podman: &'a Podman,
}

impl<'a> Buildah<'a> {
    pub fn new(podman: &'a Podman) -> Buildah<'a> {
        Buildah { podman }
    }

    fn buildah(&self, args: &[&str]) -> Said {
        let dir = &self.podman.dir;
        said(
            Command::new("buildah")
                .env("CONTAINERS_CONF", dir.join("containers.conf"))
                .arg("--root")
                .arg(dir.join("root"))
                .arg("--runroot")
                .arg(dir.join("runroot"))
                .args(["--storage-driver", "overlay"])
                .args(args),
        )
    }

    /// `from`, `run` and `rm`, then a two-step build; what a user sees of
    /// each, IDs left out.
    fn transcript(&self, runtime: Runtime) -> Result<String, String> {
        let binary = runtime.path();
        let name = format!("berth-buildah-{}-{runtime:?}", std::process::id()).to_lowercase();
        let from = self.buildah(&[
            "from",
            "--pull=never",
            "--name",
            &name,
            "localhost/busybox:test",
        ]);
        if from.code != Some(0) {
            return Err(format!("buildah from: {}", from.out));
        }
        let ran = self.buildah(&[
            "run",
            "--runtime",
            &binary,
            "--isolation",
            "oci",
            &name,
            "--",
            "sh",
            "-c",
            "echo hi; id -u",
        ]);
        let _ = self.buildah(&["rm", &name]);
        let context = self.podman.dir.join(format!("context-{runtime:?}"));
        fs::create_dir_all(&context).unwrap();
        fs::write(
            context.join("Containerfile"),
            "FROM localhost/busybox:test\nRUN echo built > /built\nRUN cat /built\n",
        )
        .unwrap();
        let tag = format!("localhost/{name}:built");
        let built = self.buildah(
            &[
                "bud",
                "--runtime",
                &binary,
                "--isolation",
                "oci",
                "--pull=never",
                "-t",
                &tag,
            ]
            .into_iter()
            .chain([context.to_str().unwrap()])
            .collect::<Vec<_>>(),
        );
        let _ = self.buildah(&["rmi", &tag]);
        // The build's own lines carry IDs; the RUN steps' output does not.
        let steps: Vec<&str> = built
            .out
            .lines()
            .filter(|l| l.starts_with("STEP") || *l == "built")
            .collect();
        // Buildah's bundles list ambient capabilities that are not
        // inheritable: the rung warns, as the specification says it MUST;
        // runc leaves them out silently. The one difference, on purpose.
        let said: String = ran
            .out
            .lines()
            .filter(|l| !l.starts_with("step-04: warning: process.capabilities.ambient"))
            .map(|l| format!("{l}\n"))
            .collect();
        Ok(format!(
            "run → {:?}\n{}bud → {:?}\n{}\n",
            ran.code,
            said,
            built.code,
            steps.join("\n")
        ))
    }
}

pub fn run_and_build(b: &Buildah) -> Result<(), String> {
    let ours = same(
        "buildah run and bud",
        b.transcript(Runtime::Runc)?,
        b.transcript(Runtime::Ours)?,
    )?;
    expect_all(
        &ours,
        &["run → Some(0)\nhi\n0\n", "bud → Some(0)\n", "\nbuilt"],
    )
}
