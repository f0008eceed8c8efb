import base64
import copy

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.report import dsse


def test_sign_then_verify_returns_payload() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = dsse.sign(b'{"a":1}', key)
    assert dsse.verify(envelope, key.public_key()) == b'{"a":1}'
    assert envelope["signatures"][0]["keyid"] == dsse.key_id(key.public_key())


def test_pae_matches_the_dsse_specification() -> None:
    # The example from the DSSE protocol document.
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.mark.parametrize("field", ["payload", "payloadType"])
def test_tampering_is_refused(field: str) -> None:
    key = Ed25519PrivateKey.generate()
    envelope = dsse.sign(b'{"a":1}', key)
    forged = copy.deepcopy(envelope)
    forged[field] = (
        base64.b64encode(b'{"a":2}').decode() if field == "payload" else "text/plain"
    )
    with pytest.raises(dsse.EnvelopeError):
        dsse.verify(forged, key.public_key())


def test_other_key_is_refused() -> None:
    envelope = dsse.sign(b"x", Ed25519PrivateKey.generate())
    with pytest.raises(dsse.EnvelopeError):
        dsse.verify(envelope, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize("envelope", [None, [], {"payloadType": "t"},
                                      {"payloadType": "t", "payload": "!!", "signatures": [{}]}])
def test_malformed_envelopes_are_refused(envelope: object) -> None:
    with pytest.raises(dsse.EnvelopeError):
        dsse.parse(envelope)
