"""A minimal S3 client for exports into a tenant's S3-compatible bucket, held to the egress guard.

Why not OpenDAL here (it serves the operator's repositories): its HTTP client resolves host names itself and
follows redirects (a DELETE or HEAD answered with a 302 is re-sent wherever `Location` points), and neither
can be turned off from Python. A tenant chooses this endpoint, so every connection must go to the address
the guard checked (`core.egress.PinnedAdapter`), redirects must never be followed, and nothing the server
answers may reach the tenant's error message. What an export needs is small: PUT an object, a multipart
upload for large files, DELETE (the probe). Requests are signed with AWS Signature Version 4
(docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html), payload hashed.

Credentials are exactly the tenant's: nothing is read from the environment, profiles or instance metadata.
No Django here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from boxvault.core import egress
from boxvault.engine.storage.base import StorageError
from boxvault.engine.storage.location import Location

PART_SIZE = 16 * 1024 * 1024
MAX_PARTS = 9000  # S3 allows 10,000; a margin for a file larger than its recorded size
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_UPLOAD_ID = re.compile(rb"<UploadId>([^<]{1,1024})</UploadId>")
_MAX_ANSWER = 64 * 1024  # bytes of a response body read at most (upload id, completion status)

REFUSED = "the storage refused the request (check the location, the bucket and the credentials)"


class S3Target:
    def __init__(
        self,
        location: Location,
        *,
        access_key_id: str,
        secret_access_key: str,
        region: str = "us-east-1",
        session_token: str = "",
        timeouts: tuple[float, float] = egress.TIMEOUTS,
        part_size: int = PART_SIZE,
    ) -> None:
        if not access_key_id or not secret_access_key:
            raise StorageError("an S3 export needs an access key id and a secret access key")
        if not _REGION.fullmatch(region):
            raise StorageError("the S3 region is not a region name (such as us-east-1)")
        if not _BUCKET.fullmatch(location.bucket):
            raise StorageError("the S3 bucket name is not valid")
        self.region = region
        self.key_id, self.secret, self.token = access_key_id, secret_access_key, session_token
        self.timeouts = timeouts
        self.part_size = part_size
        self.prefix = location.path.strip("/")
        if location.endpoint:
            base, self.bucket_path = location.endpoint, "/" + location.bucket
        elif "." in location.bucket:  # virtual-host style would break the certificate's wildcard
            base, self.bucket_path = f"https://s3.{region}.amazonaws.com", "/" + location.bucket
        else:
            base, self.bucket_path = f"https://{location.bucket}.s3.{region}.amazonaws.com", ""
        try:
            self.pinned = egress.check_url(base)
        except egress.EgressRefused as exc:
            raise StorageError(str(exc)) from None
        self.session = egress.pinned_session(self.pinned)

    # --- the operations an export uses -------------------------------------------------------------------

    def put(self, rel: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._send("PUT", rel, {}, data, {"content-type": content_type}).close()

    def delete(self, rel: str) -> None:
        self._send("DELETE", rel, {}, b"").close()

    def upload(self, rel: str, chunks: Iterator[bytes], size_hint: int = 0) -> None:
        """One PUT when the file fits in a part, else a multipart upload (aborted if anything fails)."""
        part_size = max(self.part_size, -(-size_hint // MAX_PARTS))
        buffer = bytearray()
        parts = iter(chunks)
        for chunk in parts:
            buffer += chunk
            if len(buffer) > part_size:
                break
        else:
            self.put(rel, bytes(buffer))
            return
        upload_id = self._start_multipart(rel)
        try:
            etags: list[str] = []
            for chunk in parts:
                while len(buffer) >= part_size:
                    etags.append(self._part(rel, upload_id, len(etags) + 1, bytes(buffer[:part_size])))
                    del buffer[:part_size]
                buffer += chunk
            while buffer:
                etags.append(self._part(rel, upload_id, len(etags) + 1, bytes(buffer[:part_size])))
                del buffer[:part_size]
            self._complete(rel, upload_id, etags)
        except BaseException:
            try:
                self._send("DELETE", rel, {"uploadId": upload_id}, b"").close()
            except StorageError:
                pass  # the bucket's lifecycle rules clean up what an abort could not
            raise

    def close(self) -> None:
        self.session.close()

    # --- multipart -----------------------------------------------------------------------------------------

    def _start_multipart(self, rel: str) -> str:
        answer = self._answer(self._send("POST", rel, {"uploads": ""}, b""))
        found = _UPLOAD_ID.search(answer)
        if found is None:
            raise StorageError(REFUSED)
        return found.group(1).decode("utf-8", "replace")

    def _part(self, rel: str, upload_id: str, number: int, data: bytes) -> str:
        response = self._send("PUT", rel, {"partNumber": str(number), "uploadId": upload_id}, data)
        response.close()
        etag = response.headers.get("ETag", "")
        if not etag:
            raise StorageError(REFUSED)
        return etag

    def _complete(self, rel: str, upload_id: str, etags: list[str]) -> None:
        body = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{_xml(etag)}</ETag></Part>"
            for n, etag in enumerate(etags, 1)
        )
        xml = f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode()
        answer = self._answer(self._send("POST", rel, {"uploadId": upload_id}, xml))
        if b"<Error>" in answer:  # S3 may answer 200 and report the failure in the body
            raise StorageError(REFUSED)

    # --- one signed request ---------------------------------------------------------------------------

    def _send(
        self, method: str, rel: str, query: dict[str, str], body: bytes, headers: dict[str, str] | None = None
    ) -> requests.Response:
        key = "/".join(p for p in (self.prefix, rel.strip("/")) if p)
        path = self.bucket_path + "/" + "/".join(quote(p, safe="-_.~") for p in key.split("/"))
        canonical_query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
        )
        signed = self._sign(method, path, canonical_query, body, headers or {})
        url = f"{self.pinned.url}{path}" + (f"?{canonical_query}" if canonical_query else "")
        try:
            response = self.session.request(
                method,
                url,
                data=body,
                headers=signed,
                timeout=self.timeouts,
                allow_redirects=False,
                stream=True,
            )
        except egress.EgressRefused as exc:
            raise StorageError(str(exc)) from None
        except requests.Timeout:
            raise StorageError("the storage did not answer in time") from None
        except requests.RequestException:
            raise StorageError("could not connect to the storage") from None
        if 300 <= response.status_code < 400:
            response.close()
            raise StorageError("the storage answered with a redirect, which is never followed")
        if not 200 <= response.status_code < 300:
            response.close()
            raise StorageError(REFUSED)
        return response

    def _answer(self, response: requests.Response) -> bytes:
        try:
            data = response.raw.read(_MAX_ANSWER, decode_content=True)
        except Exception:  # noqa: BLE001 - a cut answer is a failed request, whatever the reason
            raise StorageError("could not connect to the storage") from None
        finally:
            response.close()
        return bytes(data or b"")

    def _sign(self, method: str, path: str, query: str, body: bytes, extra: dict[str, str]) -> dict[str, str]:
        now = datetime.now(UTC)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(body).hexdigest()
        headers = {
            "host": self.pinned.netloc,
            "x-amz-content-sha256": payload,
            "x-amz-date": amz_date,
            **{k.lower(): v for k, v in extra.items()},
        }
        if self.token:
            headers["x-amz-security-token"] = self.token
        names = sorted(headers)
        canonical = "\n".join(
            [
                method,
                path,
                query,
                "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
                ";".join(names),
                payload,
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.key_id}/{scope}, SignedHeaders={';'.join(names)}, "
            f"Signature={signature}"
        )
        # requests spells the header names as given; Host is sent as signed (urllib3 then adds no other)
        headers["Host"] = headers.pop("host")
        return headers


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def from_target(
    location: Location, target: dict[str, Any], timeouts: tuple[float, float] = egress.TIMEOUTS
) -> S3Target:
    return S3Target(
        location,
        access_key_id=str(target.get("access_key_id") or ""),
        secret_access_key=str(target.get("secret_access_key") or ""),
        region=str(target.get("region") or "us-east-1"),
        session_token=str(target.get("session_token") or ""),
        timeouts=timeouts,
    )
