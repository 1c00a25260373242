"""A standalone Spark cluster on this machine, the shape a bank runs (issue #23): a master, one
worker (its executors are separate JVMs) and the Spark Thrift server (HiveServer2 protocol) that
dbt-spark's `method: thrift` reaches. All from the pip `pyspark` package (its jars include the
Thrift server); every process binds to 127.0.0.1 on free ports, logs into the cluster's folder
and is stopped by its PID. Used by tests/test_spark_equivalence.py, one cluster per session.

    python tests/spark_cluster.py FOLDER   # start one by hand; Ctrl-C stops it
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent
STUBS = Path(__file__).resolve().parent / "spark_stubs"  # Java sources of types pip's pyspark lacks
START_SECONDS = 180  # the Thrift server opens its Derby metastore and a session first (~20 s)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Cluster:
    folder: Path
    master_port: int = field(default_factory=free_port)
    thrift_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def warehouse_dir(self) -> Path:
        return self.folder / "warehouse"

    def env(self) -> dict[str, str]:
        """What a `tierwise spark --endpoint thrift` process needs to reach this cluster."""
        return {"TIERWISE_SPARK_HOST": "127.0.0.1", "TIERWISE_SPARK_PORT": str(self.thrift_port)}

    def _start(self, name: str, *command: str) -> None:
        env = {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_LOCAL_IP": "127.0.0.1",  # every listener and web UI on the loopback only
            "SPARK_LOG_DIR": str(self.folder / "logs"),
            "SPARK_WORKER_DIR": str(self.folder / "work"),
            "SPARK_DAEMON_JAVA_OPTS": TEST_JVM_OPTIONS,  # the master and the worker
        }
        log = open(self.folder / "logs" / f"{name}.log", "wb")  # noqa: SIM115 - the process writes it
        self.processes[name] = subprocess.Popen(
            command, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def _wait(self, name: str, port: int) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not _listening(port):
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"spark {name} did not start; its log:\n{self.log(name)[-4000:]}")
            time.sleep(0.5)

    def log(self, name: str) -> str:
        return (self.folder / "logs" / f"{name}.log").read_text(errors="replace")

    def start(self) -> Cluster:
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        spark_class = str(SPARK_HOME / "bin" / "spark-class")
        web = ("--webui-port", str(free_port()))
        self._start("master", spark_class, "org.apache.spark.deploy.master.Master",
                    "--host", "127.0.0.1", "--port", str(self.master_port), *web)  # fmt: skip
        self._wait("master", self.master_port)
        self._start("worker", spark_class, "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1", "--port", str(free_port()), "--webui-port", str(free_port()),
                    "--cores", "2", "--memory", "2g", "--work-dir", str(self.folder / "work"),
                    self.master_url)  # fmt: skip
        metastore = self.folder / "metastore_db"
        stubs = self._compile_stubs()
        conf = {
            "spark.master": self.master_url,
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
            "spark.executor.memory": "1g",
            "spark.cores.max": "2",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.warehouse.dir": str(self.warehouse_dir),
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={metastore};create=true",
            "spark.driver.extraJavaOptions": f"{TEST_JVM_OPTIONS} -Dderby.system.home={self.folder}",
            "spark.driver.extraClassPath": str(stubs),
            **tuning_conf(),
        }
        self._start(
            "thrift",
            str(SPARK_HOME / "bin" / "spark-submit"),
            "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")],
            "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
            *[arg for key, value in THRIFT_SERVER_TUNING.items() for arg in ("--hiveconf", f"{key}={value}")],
            "--hiveconf", f"hive.server2.thrift.port={self.thrift_port}",
            "spark-internal",
        )  # fmt: skip
        self._wait("thrift", self.thrift_port)
        return self

    def _compile_stubs(self) -> Path:
        """tests/spark_stubs compiled for the Thrift server's class path: without LlapSigner, a
        session close that makes Hive register its functions fails, and every later one hangs
        (Hive's registry waits forever for the registration that failed): a build stalled at
        node 151 of 284 that way. The JDK's javac is on this machine (README, "Spark")."""
        out = self.folder / "stub_classes"
        javac = shutil.which("javac") or str(Path(os.environ.get("JAVA_HOME", "/usr")) / "bin" / "javac")
        sources = [str(path) for path in sorted(STUBS.rglob("*.java"))]
        subprocess.run([javac, "-d", str(out), *sources], check=True, capture_output=True, text=True)
        return out

    def stop(self) -> None:
        for name in ("thrift", "worker", "master"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# The JVMs of a short test run: the C1 compiler only and the serial collector cut the CPU a cold
# JVM spends compiling and collecting (~27% less for the golden build); SQL semantics untouched.
# C1 alone shrinks the JVM's default code cache to 48 MB (240 MB with both compilers), and Spark's
# generated code filled it: a build failed "Out of space in CodeCache for method handle
# intrinsic" (a JVM InternalError inside codegen). So the cache keeps the default size.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -XX:+UseSerialGC"


# The Thrift server of a one-user test cluster. dbt opens a session per node (~300 a build); with
# impersonation (doAs, the default) each session runs as its own proxy user, so Hive builds a
# new metastore client, HiveConf and object store for almost every catalog lookup: a JFR profile
# of the golden build put 31% of the server's CPU there. Without it, and with a small background
# pool whose threads live on (each thread keeps its metastore connection), the golden build took
# 230 s instead of 287 s. The statements, and what the tests compare, are the same.
THRIFT_SERVER_TUNING = {
    "hive.server2.enable.doAs": "false",
    "hive.server2.async.exec.threads": "4",
    "hive.server2.async.exec.keepalive.time": "3600",
}


def tuning_conf() -> dict[str, str]:
    """Settings for the test banks' tiny tables (a few thousand rows) that leave the SQL alone:
    one shuffle partition, no adaptive re-planning and no whole-stage code generation (planning
    and compiling cost more than they save on such tables), warnings-only logs, the JVM options
    above for the executors. Measured on both Spark tests together (2026-12-06, same machine,
    back to back): 394 CPU-s and 266 s before, 340 CPU-s and 228 s with these three settings."""
    return {
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
        "spark.log.level": "WARN",
        "spark.executor.extraJavaOptions": TEST_JVM_OPTIONS,
    }


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the cluster on kill too
    cluster = Cluster(Path(sys.argv[1]).resolve()).start()
    print(f"master {cluster.master_url}, thrift 127.0.0.1:{cluster.thrift_port}; Ctrl-C stops", flush=True)
    try:
        signal.pause()
    finally:
        cluster.stop()
