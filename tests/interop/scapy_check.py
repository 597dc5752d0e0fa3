#!/usr/bin/python3
"""Second, independent check of an ipsecov2 capture (issue 5) with Debian's python3-scapy.

Usage: /usr/bin/python3 scapy_check.py capture.pcapng keys.json [capture2.pcapng keys2.json ...]

Reads the pcapng (scapy's rdpcap reads pcapng) and keys.json, and for every frame walks the
IP packet: AH ICVs are verified with scapy's AuthAlgo.verify over the mutable-field-zeroed packet
(RFC 4302 section 3.3.3.1, scapy's zero_mutable_fields), ESP is verified and decrypted with
scapy's CryptAlgo/AuthAlgo (RFC 4303 section 3.4.4), ESN with scapy's esn_en/esn parameters
where scapy 2.5.0 implements them. Decrypted inner packets are walked again (tunnel mode,
transport over tunnel, AH+ESP). TCP payloads are put in sequence order per flow and hashed
(SHA-256), UDP payloads in frame order, so the test compares them with the sender's hash.

What scapy 2.5.0 (Debian 12's python3-scapy 2.5.0+dfsg) cannot check is reported as
"unsupported" with the reason, and the walk goes on without verifying (the test covers those
layers with the tests/oracle implementation instead):
- ESP with ESN and a separate integrity algorithm: AuthAlgo.verify hashes the ESP packet as
  sent and never appends the ESN high half (it does so for AH only), RFC 4303 section 2.2.1.
- AES-GMAC (RFC 4543), for ESP (ENCR_NULL_AUTH_AES_GMAC) and for AH: not in AUTH_ALGOS.

Prints one JSON line per capture: {"frames": [...], "flows": [...], "counts": {...}}; the
layers it could not check carry their bytes ("hex") for the other implementation.
"""

import hashlib
import json
import struct
import sys
import warnings

warnings.filterwarnings("ignore")

from scapy.all import rdpcap, raw  # noqa: E402
from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.layers.ipsec import (  # noqa: E402
    AH,
    AUTH_ALGOS,
    CRYPT_ALGOS,
    ESP,
    IPSecIntegrityError,
    SecurityAssociation,
)
from scapy.layers.l2 import Ether  # noqa: E402

# contract D17 names -> scapy 2.5.0 names (scapy.layers.ipsec CRYPT_ALGOS / AUTH_ALGOS)
CRYPT = {
    "null": "NULL",
    "des-cbc": "DES",
    "3des-cbc": "3DES",
    "aes-cbc-128": "AES-CBC",
    "aes-cbc-192": "AES-CBC",
    "aes-cbc-256": "AES-CBC",
    "aes-gcm-128": "AES-GCM",
    "aes-gcm-192": "AES-GCM",
    "aes-gcm-256": "AES-GCM",
    "chacha20-poly1305": "CHACHA20-POLY1305",
}
AUTH = {
    "hmac-md5-96": "HMAC-MD5-96",
    "hmac-sha1-96": "HMAC-SHA1-96",
    "hmac-sha256-128": "SHA2-256-128",
    "hmac-sha384-192": "SHA2-384-192",
    "hmac-sha512-256": "SHA2-512-256",
}


def unhex(text):
    return bytes.fromhex(text) if text else None


class Sa:
    """One keys.json entry, with the ESN high half last seen on it."""

    def __init__(self, e):
        self.entry = e
        self.protocol = e["protocol"]
        self.spi = int(e["spi"], 16)
        self.esn = bool(e["esn"])
        self.high = 0
        self.integrity = e["integrity"]
        self.encryption = e["encryption"]
        self.icv = int(e["icvLength"])
        self.gmac = bool(self.integrity and self.integrity.startswith("aes-gmac"))
        self.unsupported = None
        if self.gmac:
            self.unsupported = "scapy 2.5.0 has no AES-GMAC (RFC 4543) in AUTH_ALGOS"
        elif self.protocol == "esp" and self.esn and self.integrity is not None:
            self.unsupported = (
                "scapy 2.5.0 ESP AuthAlgo.verify ignores esn_en/esn "
                "(the ESN high half is never appended to the ICV input)"
            )
        auth = AUTH.get(self.integrity) if self.integrity and not self.gmac else None
        crypt = CRYPT.get(self.encryption) if self.protocol == "esp" else None
        if self.protocol == "esp" and crypt not in CRYPT_ALGOS:
            self.unsupported = "scapy has no %s" % self.encryption
            crypt = None
        if auth is not None and auth not in AUTH_ALGOS:
            self.unsupported = "scapy has no %s" % self.integrity
            auth = None
        kwargs = {}
        if crypt is not None:
            kwargs["crypt_algo"] = crypt
            kwargs["crypt_key"] = unhex(e["encryptionKey"])
            if CRYPT_ALGOS[crypt].is_aead:
                kwargs["crypt_icv_size"] = self.icv
        if auth is not None:
            kwargs["auth_algo"] = auth
            kwargs["auth_key"] = unhex(e["integrityKey"])
        self.sa = SecurityAssociation(
            ESP if self.protocol == "esp" else AH, spi=self.spi, **kwargs
        )

    def highs(self):
        # ESN: the high half is not on the wire; try the last one seen, then the next
        # (RFC 4303 Appendix A2 in short).
        return [self.high, (self.high + 1) & 0xFFFFFFFF] if self.esn else [0]


class Checker:
    def __init__(self, keys):
        self.sas = {}
        for e in keys["sas"]:
            s = Sa(e)
            self.sas[(s.protocol, s.spi)] = s
        self.frames = []
        self.tcp = {}
        self.udp = {}
        self.counts = {"ok": 0, "failed": 0, "unsupported": 0, "unknown": 0}

    def note(self, layers, protocol, spi, status, reason=None, data=None, ip_version=None):
        self.counts[status] += 1
        layer = {"protocol": protocol, "spi": "0x%08x" % spi, "status": status, "reason": reason}
        if data is not None:
            # The bytes another implementation must check: ESP from its SPI to its ICV, or the
            # whole IP packet for AH (its IP version given).
            layer["hex"] = bytes(data).hex()
            if ip_version is not None:
                layer["ipVersion"] = ip_version
        layers.append(layer)

    # --- ESP ---------------------------------------------------------------------------------
    def esp(self, esp_bytes, layers):
        esp = ESP(esp_bytes)
        s = self.sas.get(("esp", esp.spi))
        if s is None:
            self.note(layers, "esp", esp.spi, "unknown", "no SA in keys.json")
            return None
        if s.gmac:
            # ENCR_NULL_AUTH_AES_GMAC: 8-byte IV, NULL encryption, 16-byte ICV (RFC 4543 3.1).
            body = esp.data[8 : len(esp.data) - s.icv]
            self.note(layers, "esp", esp.spi, "unsupported", s.unsupported, esp_bytes)
            return body[-1], body[: len(body) - body[-2] - 2]
        if s.unsupported is not None:
            plain = s.sa.crypt_algo.decrypt(
                s.sa, esp, s.sa.crypt_key, s.icv, esn_en=s.esn, esn=s.high
            )
            self.note(layers, "esp", esp.spi, "unsupported", s.unsupported, esp_bytes)
            return plain.nh, plain.data
        last = None
        for high in s.highs():
            try:
                s.sa.auth_algo.verify(esp, s.sa.auth_key)
                plain = s.sa.crypt_algo.decrypt(
                    s.sa, esp, s.sa.crypt_key, s.icv, esn_en=s.esn, esn=high
                )
            except IPSecIntegrityError as err:
                last = str(err)
                continue
            s.high = high
            self.note(layers, "esp", esp.spi, "ok")
            return plain.nh, plain.data
        self.note(layers, "esp", esp.spi, "failed", "ICV mismatch: %s" % last)
        return None

    # --- AH ----------------------------------------------------------------------------------
    def ah(self, pkt, layers):
        ah = pkt[AH]
        s = self.sas.get(("ah", ah.spi))
        if s is None:
            self.note(layers, "ah", ah.spi, "unknown", "no SA in keys.json")
            return None
        nh = ah.nh
        # The AH header's own length (RFC 4302 2.2: payload length in 32-bit words minus 2).
        ah_raw = raw(ah)
        after = ah_raw[(ah_raw[1] + 2) * 4 :]
        if s.unsupported is not None:
            self.note(
                layers, "ah", ah.spi, "unsupported", s.unsupported, raw(pkt), pkt.version
            )
            return nh, after
        last = None
        for high in s.highs():
            try:
                s.sa.auth_algo.verify(pkt.copy(), s.sa.auth_key, esn_en=s.esn, esn=high)
            except IPSecIntegrityError as err:
                last = str(err)
                continue
            s.high = high
            self.note(layers, "ah", ah.spi, "ok")
            return nh, after
        self.note(layers, "ah", ah.spi, "failed", "ICV mismatch: %s" % last)
        return None

    # --- the walk ----------------------------------------------------------------------------
    def ip(self, data, layers, frame, depth=0):
        version = data[0] >> 4
        pkt = IP(data) if version == 4 else IPv6(data)
        proto = pkt.proto if version == 4 else pkt.nh
        header = pkt.ihl * 4 if version == 4 else 40
        payload = bytes(data[header:])
        src, dst = pkt.src, pkt.dst
        for _ in range(8):
            if proto == 51:
                r = self.ah(pkt, layers)
                if r is None:
                    return
                proto, payload = r
                continue
            if proto == 50:
                r = self.esp(payload, layers)
                if r is None:
                    return
                proto, payload = r
                continue
            if proto in (4, 41):
                self.ip(payload, layers, frame, depth + 1)
                return
            if proto == 17:
                udp = UDP(payload)
                body = bytes(payload[8 : udp.len]) if udp.len else bytes(payload[8:])
                if 4500 in (udp.sport, udp.dport) and len(body) >= 4 and body[:4] != b"\0" * 4:
                    # RFC 3948 2.2: UDP-encapsulated ESP (non-ESP marker absent).
                    r = self.esp(body, layers)
                    if r is None:
                        return
                    proto, payload = r
                    continue
                key = "udp %s:%d > %s:%d" % (src, udp.sport, dst, udp.dport)
                self.udp.setdefault(key, []).append(body)
                return
            if proto == 6:
                tcp = TCP(payload)
                body = bytes(payload[tcp.dataofs * 4 :])
                if body:
                    key = "tcp %s:%d > %s:%d" % (src, tcp.sport, dst, tcp.dport)
                    self.tcp.setdefault(key, {})[tcp.seq] = body
                return
            return

    def run(self, pcap):
        for n, frame in enumerate(rdpcap(pcap), start=1):
            layers = []
            eth = Ether(raw(frame))
            if eth.type in (0x0800, 0x86DD):
                try:
                    self.ip(bytes(eth.payload), layers, n)
                except Exception as err:  # a frame scapy cannot walk is a failure, not a crash
                    self.counts["failed"] += 1
                    layers.append({"protocol": "frame", "status": "failed", "reason": repr(err)})
            self.frames.append({"frame": n, "layers": layers})
        flows = []
        for key, segs in self.tcp.items():
            data = b"".join(segs[s] for s in sorted(segs))
            flows.append({"flow": key, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        for key, dgrams in self.udp.items():
            data = b"".join(dgrams)
            flows.append({"flow": key, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        return {"frames": self.frames, "flows": flows, "counts": self.counts}


def main():
    # Pairs of arguments: one JSON line per capture (one Python start-up for many captures).
    args = sys.argv[1:]
    for pcap, keys_path in zip(args[0::2], args[1::2]):
        with open(keys_path) as f:
            keys = json.load(f)
        json.dump(Checker(keys).run(pcap), sys.stdout)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
