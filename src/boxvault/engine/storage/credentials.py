"""OpenDAL operator options from restic's environment variables, plus emulator endpoint overrides.

restic's names are used where restic has one; boxvault adds ``BOXVAULT_AZURE_ENDPOINT`` (restic can only set
the endpoint suffix) and honours ``STORAGE_EMULATOR_HOST``, the Google client libraries' emulator switch.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import StorageError
from .location import Location

DEFAULT_S3_REGION = "us-east-1"


def operator_options(location: Location, env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The OpenDAL scheme and options for an object-store location."""
    root = "/" + location.path + ("/" if location.path else "")
    if location.kind == "s3":
        return "s3", _s3(location, env, root)
    if location.kind == "azure":
        return "azblob", _azure(location, env, root)
    if location.kind == "gs":
        return "gcs", _gcs(location, env, root)
    raise StorageError(f"not an object-store location: {location.kind}")


def _s3(location: Location, env: Mapping[str, str], root: str) -> dict[str, str]:
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_S3_REGION
    options = {"bucket": location.bucket, "root": root, "region": region, "endpoint": location.endpoint}
    host = location.endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if not location.endpoint or host == "s3.amazonaws.com":
        # AWS itself: the regional endpoint and virtual-host-style requests, as restic (minio-go) sends them;
        # other S3 services get path-style requests at the endpoint given
        options.update(endpoint=f"https://s3.{region}.amazonaws.com", enable_virtual_host_style="true")
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if bool(key_id) != bool(secret):
        raise StorageError("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
    if key_id and secret:
        options.update(access_key_id=key_id, secret_access_key=secret)
        if env.get("AWS_SESSION_TOKEN"):
            options["session_token"] = env["AWS_SESSION_TOKEN"]
        # the keys given win: no profile files, no instance metadata
        options.update(disable_config_load="true", disable_ec2_metadata="true")
    elif env.get("AWS_PROFILE"):
        options["profile"] = env["AWS_PROFILE"]
    return options


def _azure(location: Location, env: Mapping[str, str], root: str) -> dict[str, str]:
    account = env.get("AZURE_ACCOUNT_NAME", "")
    if not account:
        raise StorageError("AZURE_ACCOUNT_NAME is not set (and AZURE_ACCOUNT_KEY or AZURE_ACCOUNT_SAS)")
    endpoint = env.get("BOXVAULT_AZURE_ENDPOINT") or (
        f"https://{account}.blob.{env.get('AZURE_ENDPOINT_SUFFIX') or 'core.windows.net'}"
    )
    options = {"container": location.bucket, "root": root, "account_name": account, "endpoint": endpoint}
    if env.get("AZURE_ACCOUNT_KEY"):
        options["account_key"] = env["AZURE_ACCOUNT_KEY"]
    elif env.get("AZURE_ACCOUNT_SAS"):
        options["sas_token"] = env["AZURE_ACCOUNT_SAS"].lstrip("?")
    else:
        raise StorageError("set AZURE_ACCOUNT_KEY or AZURE_ACCOUNT_SAS for the Azure account " + account)
    return options


def _gcs(location: Location, env: Mapping[str, str], root: str) -> dict[str, str]:
    options = {"bucket": location.bucket, "root": root}
    emulator = env.get("STORAGE_EMULATOR_HOST")
    if emulator:
        if "://" not in emulator:
            emulator = "http://" + emulator
        # emulators accept unsigned requests; there is no credential to load
        options.update(endpoint=emulator.rstrip("/"), skip_signature="true", disable_vm_metadata="true")
        return options
    if env.get("GOOGLE_ACCESS_TOKEN"):
        options["token"] = env["GOOGLE_ACCESS_TOKEN"]
    elif env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        options["credential_path"] = env["GOOGLE_APPLICATION_CREDENTIALS"]
    # GOOGLE_PROJECT_ID matters to restic only for creating buckets; boxvault expects the bucket to exist
    return options
