"""Issue 14, hosting: local videos and audios uploaded to an S3-compatible bucket (moto's real
server on loopback, started here) and sent to Together as presigned URLs. Content-addressed
objects uploaded once ever, failures in one line naming the bucket and the file before any
create, nothing half-uploaded under the final name, and the examples rendered end to end on the
fake Together server.

The fake Together server accepts the presigned URLs as URLs (it does not fetch them); the tests
fetch each one themselves to prove the vendor could."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from render_helpers import KEY, cli, fast_cli

pytestmark = pytest.mark.timeout(120)

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

ROOT = Path(__file__).resolve().parents[1]
SECRET = "moto-secret-key-6b1d4e"
ACCESS = "AKIAMOTOTESTKEY1"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(s3_endpoint, monkeypatch, tmp_path):
    """The usual AWS variables pointing at moto; a fresh bucket per test."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3")
    bucket = f"films-{tmp_path.name.lower().replace('_', '-')[-40:]}".rstrip("-")
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


def objects(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_parse_host():
    from storyboard.hosting import parse_host

    assert str(parse_host("s3://films/run 1/")) == "s3://films/run 1/"
    assert parse_host("s3://films").prefix == ""
    for bad in ("https://films/x", "s3:///x", "films/x", "s3://films/x?y=1"):
        with pytest.raises(ValueError, match="s3://bucket/prefix"):
            parse_host(bad)


def test_a_file_is_uploaded_once_under_its_sha256_and_the_url_works(aws, tmp_path):
    from storyboard.hosting import S3Host, file_sha256

    s3, bucket = aws
    clip = tmp_path / "Wave.MP4"
    clip.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(3000))
    host = S3Host(f"s3://{bucket}/refs")
    url = host.url_for(clip)
    digest = file_sha256(clip)
    assert objects(s3, bucket) == [f"refs/{digest}.mp4"]
    assert httpx.get(url).content == clip.read_bytes()  # what the vendor fetches
    assert "X-Amz-Expires=604800" in url  # a week: it outlives any job
    calls = []
    again = S3Host(f"s3://{bucket}/refs", client=boto3.client("s3"))
    again.client().meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    again.url_for(clip)
    assert calls == ["HeadObject"]  # found by its content: not uploaded again


@pytest.mark.parametrize("case", ["missing bucket", "wrong credential", "endpoint refuses"])
def test_failures_are_one_line_naming_the_bucket_and_the_file(aws, tmp_path, monkeypatch, case):
    from storyboard.hosting import HostingError, S3Host

    s3, bucket = aws
    f = tmp_path / "voice.mp3"
    f.write_bytes(b"ID3" + bytes(100))
    if case == "missing bucket":
        bucket = "no-such-bucket-here"
        expected = "does not exist"
    elif case == "wrong credential":
        from moto import settings

        monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # the server checks keys from now on
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY0000000")
        expected = "refused the credentials"  # a HEAD answer has no body to say more
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
        expected = "cannot reach the endpoint"
    with pytest.raises(HostingError) as info:
        S3Host(f"s3://{bucket}/x").url_for(f)
    line = str(info.value)
    assert "\n" not in line and f"s3://{bucket}/x/" in line and str(f) in line and expected in line
    assert SECRET not in line


def test_an_upload_cut_off_leaves_nothing_under_the_final_name_and_the_next_run_resumes(aws, tmp_path, monkeypatch):
    from storyboard import hosting

    s3, bucket = aws
    f = tmp_path / "big.mp4"
    f.write_bytes(bytes(range(256)) * 400)
    real_open = open

    class CutOff:
        def __init__(self, fh):
            self.fh, self.sent = fh, 0

        def read(self, n=-1):
            data = self.fh.read(n if n and n > 0 else 4096)
            self.sent += len(data)
            if self.sent > 20000:
                raise ConnectionResetError("connection reset by peer")
            return data

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

    def cut_open(path, mode="r", *a, **kw):
        fh = real_open(path, mode, *a, **kw)
        return CutOff(fh) if mode == "rb" and Path(path) == f else fh

    monkeypatch.setattr(hosting, "open", cut_open, raising=False)
    host = hosting.S3Host(f"s3://{bucket}/")
    monkeypatch.setattr(hosting, "file_sha256", lambda p: hashlib_sha256(p))  # hashing reads the real file
    with pytest.raises(hosting.HostingError, match=r"cut off|reset"):
        host.url_for(f)
    assert objects(s3, bucket) == []  # nothing half-uploaded under the final name
    monkeypatch.delattr(hosting, "open")  # the connection is back
    url = hosting.S3Host(f"s3://{bucket}/").url_for(f)
    assert httpx.get(url).content == f.read_bytes()


def hashlib_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_without_hosting_sb305_names_the_host_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("STORYBOARD_HOST", raising=False)
    r = cli(["check", str(ROOT / "examples/lighthouse/lighthouse.story"), "-p", "together"])
    assert r.exit_code == 1 and "SB305" in r.output and "`host` setting" in r.text and "--host s3://" in r.text


def copy_example(name: str, tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / name, tmp_path / name)
    return tmp_path / name / f"{name}.story"


def test_plan_lists_the_uploads_and_says_nothing_leaves_without_yes(aws, tmp_path):
    s3, bucket = aws
    story = copy_example("tea-house", tmp_path)
    r = cli(["plan", str(story), "-p", "together", "--host", f"s3://{bucket}/tea"], {"TOGETHER_API_KEY": KEY})
    assert r.exit_code == 0, r.output
    assert "will be uploaded when the render is confirmed (--yes)" in r.text
    assert "nothing leaves this machine" in r.text and f"s3://{bucket}/tea/" in r.text
    assert "traveller-voice.mp3" in r.text and "slow-pour.mp4" in r.text
    assert objects(s3, bucket) == []  # planning uploads nothing


def test_a_missing_bucket_is_exit_2_before_any_create(aws, tmp_path, fake_together, monkeypatch):
    fast_cli(monkeypatch)
    fake = fake_together()
    story = copy_example("lighthouse", tmp_path)
    r = cli(["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes",
             "--host", "s3://no-such-bucket-here/x"], {"TOGETHER_API_KEY": KEY})
    assert r.exit_code == 2, r.output
    assert "no-such-bucket-here" in r.text and "does not exist" in r.text and "nothing was submitted" in r.text
    assert fake.stats()["creates"] == 0 and fake.stats()["rejected"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("example", ["lighthouse", "tea-house"])
def test_the_examples_render_end_to_end_on_together_with_hosting(aws, tmp_path, fake_together, monkeypatch, example):
    s3, bucket = aws
    fast_cli(monkeypatch)
    fake = fake_together()
    story = copy_example(example, tmp_path)
    base = ["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes",
            "--host", f"s3://{bucket}/{example}"]
    r = cli(base, {"TOGETHER_API_KEY": KEY})
    assert r.exit_code == 0, r.output
    uploaded = objects(s3, bucket)
    assert uploaded and all(len(Path(k).stem) == 64 for k in uploaded)
    urls = [u for job in fake.stats()["jobs"] for u in _media_urls(fake, job)]
    assert urls and SECRET not in r.output
    for url in urls:  # each URL sent is one the vendor can fetch
        assert httpx.get(url).status_code == 200
    assert cli(base, {"TOGETHER_API_KEY": KEY}).exit_code == 0  # cached: nothing new uploaded
    assert objects(s3, bucket) == uploaded


def _media_urls(fake, job) -> list[str]:
    body = fake._jobs[job["id"]].body  # what the vendor was sent
    media = body.get("media") or {}
    out = [v["video"] for v in media.get("reference_videos") or []]
    out += [a if isinstance(a, str) else a["audio"] for a in media.get("reference_audios") or []]
    return [u for u in out if u.startswith("http://127.0.0.1")]
