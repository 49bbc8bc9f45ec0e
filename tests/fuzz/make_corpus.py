#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

A few real-looking inputs per target, in each target's input format (see
the comment at the top of each *_fuzz.cc). Deterministic except for the
certificates' keys and signatures. Run from anywhere:
    python3 tests/fuzz/make_corpus.py
Needs the `cryptography` package (for the DS2OS-style certificates).
"""
import base64
import datetime
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- VSL messages (shared/docs/VSL-WIRE.md) --------------------------------

def http_req(method, path, body=b"", ctype=b"application/json; UTF-8", extra=b""):
    h = method + b" " + path + b" HTTP/1.1\r\nHost: 10.0.0.1:8081\r\n" + extra
    if body or method in (b"PUT", b"POST"):
        h += b"Content-Type: " + ctype + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    return h + b"\r\n" + body


def http_resp(status, body=b"", ctype=b"application/json; UTF-8", extra=b""):
    reason = {200: b"OK", 204: b"No Content", 101: b"Switching Protocols", 404: b"Not Found"}[status]
    h = b"HTTP/1.1 " + str(status).encode() + b" " + reason + b"\r\n" + extra
    if status != 101 and status != 204:
        h += b"Content-Type: " + ctype + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    return h + b"\r\n" + body


def chunked_req(method, path, body):
    h = method + b" " + path + b" HTTP/1.1\r\nHost: 10.0.0.1:8081\r\n"
    h += b"Content-Type: application/json; UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n"
    if body:
        h += b"%x\r\n" % len(body) + body + b"\r\n"
    return h + b"0\r\n\r\n"


GET_BODY = (b'{"types":["/lightControler","/basic/composed"],"timestamp":1500000000000,"version":5,'
            b'"children":{"isOn":{"types":["/basic/boolean"],"value":"1","timestamp":1500000000000,'
            b'"version":3}}}')
NODE_BODY = b'{"types":["/basic/boolean"],"value":"1","timestamp":1500000000000,"version":3}'
REGISTER = b'{"modelId":"/lightControler","modelHash":"abc123","binaryHash":"def456"}'
SUBSCRIBE = b'{"operation":"SUBSCRIBE","callbackId":"45b01d6b-49d5-44f0-9023-1537b0bc3de0"}'
CALLBACK = (b'{"callbackId":"45b01d6b-49d5-44f0-9023-1537b0bc3de0","serial":348,'
            b'"address":"/agent1/movementsensor1/motion","invoke":"NOTIFY"}')
WS_UPGRADE = (b"GET /callbacks HTTP/1.1\r\nHost: 10.0.0.1:8081\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n\r\n")
WS_ACCEPT = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
             b"Sec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n\r\n")


def ws_frame(payload, opcode=1, fin=True, mask=None):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        h += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return h + payload


def auth_header(client_id):
    js = b'{"clientId":"' + client_id + b'"}'
    return b"Authorization: VSL " + base64.b64encode(js) + b"\r\n"


def sessions():
    """Plaintext VSL conversations: lists of (direction, bytes); 0 = to the server."""
    reg = [(0, http_req(b"POST", b"/service/register", REGISTER)),
           (1, http_resp(200, b'"/agent1/lightcontroler1"')),
           (0, http_req(b"GET", b"/vsl/agent1/lightcontroler1?depth=-1&scope=COMPLETE&version=3")),
           (1, http_resp(200, GET_BODY)),
           (0, http_req(b"PUT", b"/vsl/agent1/lightcontroler1/isOn", b'{"value":"0"}')),
           (1, http_resp(204)),
           (0, chunked_req(b"POST", b"/service/unregister", b""))]
    rw = [(0, http_req(b"GET", b"/vsl/agent1/movementsensor1/motion")),
          (0, http_req(b"GET", b"/vsl/~/isOn")),  # pipelined
          (1, http_resp(200, NODE_BODY)),
          (1, http_resp(404, b'"not found"')),
          (0, http_req(b"POST", b"/vsl/agent1/movementsensor1/motion", SUBSCRIBE)),
          (1, http_resp(204)),
          (0, http_req(b"POST", b"/vsl/agent1/door1/lock", b'{"operation":"LOCK_SUBTREE","callbackId":"1"}')),
          (1, http_resp(204)),
          (0, http_req(b"POST", b"/vsl/agent1/door1/lock", b'{"operation":"COMMIT_SUBTREE"}')),
          (1, http_resp(204))]
    ws = [(0, WS_UPGRADE), (1, WS_ACCEPT),
          (1, ws_frame(CALLBACK)),
          (0, ws_frame(b'{"callbackId":"45b01d6b-49d5-44f0-9023-1537b0bc3de0","serial":348}',
                       mask=b"\x12\x34\x56\x78")),
          (1, ws_frame(b"", opcode=9)),
          (0, ws_frame(b"", opcode=10, mask=b"\x01\x02\x03\x04"))]
    ka = [(0, http_req(b"PUT", b"/vsl/agent1/lightcontroler1/isOn", b'{"value":"1"}',
                       extra=auth_header(b"smartphone1"))),
          (1, http_resp(204))]
    cbor_val = bytes([0xa1, 0x65]) + b"value" + bytes([0x61]) + b"1"
    cbor = [(0, http_req(b"PUT", b"/vsl/agent1/lightcontroler1/isOn", cbor_val, ctype=b"application/cbor")),
            (1, http_resp(204))]
    return {"register": reg, "readwrite": rw, "websocket": ws, "ka_auth": ka, "cbor": cbor}


def vsl_chunks(session, maxlen=48):
    """http_vsl_fuzz format: control byte (bit 7 direction, length) + data."""
    out = bytearray([0])  # client: a configured service
    for d, data in session:
        i = 0
        while i < len(data):
            n = min(maxlen, len(data) - i, 64)
            out.append((0x80 if d else 0) | (n - 1))
            out += data[i:i + n]
            i += n
    return bytes(out)


# --- TLS ------------------------------------------------------------------

def make_cert(cn, ka=False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ds2os-ca")])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(1234)
         .not_valid_before(datetime.datetime(2024, 1, 1))
         .not_valid_after(datetime.datetime(2034, 1, 1)))
    utf8 = lambda s: bytes([0x0c, len(s)]) + s
    b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.2"),
                                                   utf8(b"/lightControler;/basic")), False)
    b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.1"),
                                                   utf8(b"0123456789abcdef")), False)
    if ka:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.0"),
                                                       b"TRUE"), False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def record(ctype, body, version=0x0303):
    return struct.pack(">BHH", ctype, version, len(body)) + body


def hs(mtype, body):
    return bytes([mtype]) + struct.pack(">I", len(body))[1:] + body


def ext(etype, body):
    return struct.pack(">HH", etype, len(body)) + body


def client_hello(sni=b"agent1", tls13=False):
    exts = ext(0, struct.pack(">HBH", len(sni) + 3, 0, len(sni)) + sni)
    if tls13:
        exts += ext(43, bytes([4]) + b"\x03\x04\x03\x03")
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x04\xc0\x2b\x13\x01" + b"\x01\x00"
    body += struct.pack(">H", len(exts)) + exts
    return hs(1, body)


def server_hello(tls13=False):
    exts = ext(43, b"\x03\x04") if tls13 else b""
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + (b"\x13\x01" if tls13 else b"\xc0\x2b") + b"\x00"
    body += struct.pack(">H", len(exts)) + exts
    return hs(2, body)


def certificate_msg(der):
    certs = struct.pack(">I", len(der))[1:] + der
    return hs(11, struct.pack(">I", len(certs))[1:] + certs)


def tls_sessions(server_der, client_der):
    t12 = [(0, record(22, client_hello(), 0x0301)),
           (1, record(22, server_hello() + certificate_msg(server_der) + hs(14, b""))),
           (0, record(22, certificate_msg(client_der) + hs(16, b"\x41" + bytes(65)))),
           (0, record(20, b"\x01")), (0, record(22, bytes(40))),
           (1, record(20, b"\x01")), (1, record(22, bytes(40))),
           (0, record(23, bytes(120))), (1, record(23, bytes(300))),
           (0, record(23, bytes(90))), (0, record(23, bytes(30))), (1, record(23, bytes(64))),
           (0, record(21, bytes(26)))]
    t13 = [(0, record(22, client_hello(b"agent2", True), 0x0301)),
           (1, record(22, server_hello(True)) + record(20, b"\x01") + record(23, bytes(900))),
           (0, record(20, b"\x01") + record(23, bytes(53))),
           (0, record(23, bytes(200))), (1, record(23, bytes(400))),
           (0, record(23, bytes(19)))]
    return {"tls12": t12, "tls13": t13}


def tls_chunks(session):
    """tls_fuzz format: control byte (bit 7 direction, bit 6 64-byte units) + data."""
    out = bytearray()
    for d, data in session:
        i = 0
        while i < len(data):
            left = len(data) - i
            if left >= 64:
                units = min(left // 64, 64)
                out.append((0x80 if d else 0) | 0x40 | (units - 1))
                n = units * 64
            else:
                out.append((0x80 if d else 0) | (left - 1))
                n = left
            out += data[i:i + n]
            i += n
    return bytes(out)


# --- Packets ----------------------------------------------------------------

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(src, dst, proto, l4):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto, 0,
                    bytes(src), bytes(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + l4


def ip6(src, dst, proto, l4):
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, 64, bytes(src), bytes(dst)) + l4


def tcp(sport, dport, seq, ack, flags, payload=b"", opts=b""):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                       off << 4, flags, 65535, 0, 0) + opts + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def eth(ip, ethertype=0x0800, vlan=None):
    h = bytes.fromhex("020000000001") + bytes.fromhex("020000000002")
    if vlan is not None:
        h += struct.pack("!HH", 0x8100, vlan)
    return h + struct.pack("!H", ethertype) + ip


def sll(ip, proto=0x0800):
    return struct.pack("!HHH8sH", 0, 1, 6, bytes(8), proto) + ip


def sll2(ip, proto=0x0800):
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 0, 6, bytes(8)) + ip


def null(ip, family=2):
    return struct.pack("<I", family) + ip


C4, S4 = [10, 1, 0, 2], [10, 0, 0, 1]
C6 = [0xfe, 0x80] + [0] * 13 + [2]
S6 = [0xfe, 0x80] + [0] * 13 + [1]
SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def tcp_conversation(session, isn_c=0xfffffff0, isn_s=1000, sport=40000, dport=8081):
    """IP packets (client -> server is kToServer) of a whole connection."""
    pk = []
    pk.append(("c", tcp(sport, dport, isn_c, 0, SYN, opts=b"\x02\x04\x05\xb4")))
    pk.append(("s", tcp(dport, sport, isn_s, isn_c + 1, SYN | ACK)))
    pk.append(("c", tcp(sport, dport, isn_c + 1, isn_s + 1, ACK)))
    seq = {0: isn_c + 1, 1: isn_s + 1}
    for d, data in session:
        for i in range(0, len(data), 1400):
            seg = data[i:i + 1400]
            if d == 0:
                pk.append(("c", tcp(sport, dport, seq[0], seq[1], ACK | PSH, seg)))
            else:
                pk.append(("s", tcp(dport, sport, seq[1], seq[0], ACK | PSH, seg)))
            seq[d] += len(seg)
    pk.append(("c", tcp(sport, dport, seq[0], seq[1], FIN | ACK)))
    pk.append(("s", tcp(dport, sport, seq[1], seq[0] + 1, FIN | ACK)))
    pk.append(("c", tcp(sport, dport, seq[0] + 1, seq[1] + 1, ACK)))
    return pk


def frames_v4(pk, link):
    out = []
    for side, seg in pk:
        src, dst = (C4, S4) if side == "c" else (S4, C4)
        ip = ip4(src, dst, 6, seg)
        out.append(link(ip))
    return out


def capture_input(link_index, frames, reorder=False):
    if reorder and len(frames) > 5:
        frames = frames[:3] + [frames[4], frames[3]] + frames[5:]
    out = bytearray([link_index])
    for f in frames:
        out += struct.pack("!HB", len(f), 1) + f
    return bytes(out)


def main():
    vs = sessions()
    for name, s in vs.items():
        write("http_vsl_fuzz", name, vsl_chunks(s))
    write("http_vsl_fuzz", "readwrite_split", vsl_chunks(vs["readwrite"], 7))

    write("websocket_fuzz", "callbacks",
          b"".join(bytes([len(f) - 1]) + f for f in [
              ws_frame(CALLBACK, mask=b"\x11\x22\x33\x44"),
              ws_frame(b'{"callbackId":"1",', fin=False, mask=b"\x01\x02\x03\x04"),
              ws_frame(b"", opcode=9, mask=b"\x01\x02\x03\x04"),
              ws_frame(b'"serial":2}', opcode=0, mask=b"\x05\x06\x07\x08"),
              ws_frame(b"\x03\xe8", opcode=8)]))
    big = ws_frame(b"x" * 300, opcode=2)
    write("websocket_fuzz", "medium", b"".join(bytes([200]) + big[i:i + 201] for i in range(0, len(big), 201)))

    for body in [GET_BODY, NODE_BODY, REGISTER, SUBSCRIBE, CALLBACK, b'"/agent1/lightcontroler1"',
                 b'{"clientId":"smartphone1"}', b'{"value":{"a":[1,2,{"b":null}]},"types":[]}']:
        write("cbor_json_fuzz", "json_%d" % len(body), body)
    write("cbor_json_fuzz", "cbor_value", bytes([0xa1, 0x65]) + b"value" + bytes([0x61]) + b"1")
    write("cbor_json_fuzz", "cbor_types",
          bytes([0xa2, 0x65]) + b"types" + bytes([0x81, 0x6f]) + b"/lightControler" +
          bytes([0x65]) + b"value" + bytes([0xf5]))
    write("cbor_json_fuzz", "cbor_string", bytes([0x78, 24]) + b"/agent1/lightcontroler12")

    server_der = make_cert("agent1", ka=True)
    client_der = make_cert("lightcontrol1")
    write("x509_fuzz", "agent1.der", server_der)
    write("x509_fuzz", "lightcontrol1.der", client_der)
    for name, s in tls_sessions(server_der, client_der).items():
        write("tls_fuzz", name, tls_chunks(s))

    # packet_fuzz: link index byte + frame.
    seg = tcp(40000, 8081, 1, 1, ACK | PSH, http_req(b"GET", b"/vsl/agent1/x"))
    write("packet_fuzz", "eth_tcp", b"\x00" + eth(ip4(C4, S4, 6, seg)))
    qinq = (bytes.fromhex("020000000001020000000002") + struct.pack("!HHHH", 0x88a8, 5, 0x8100, 7)
            + b"\x08\x00" + ip4(C4, S4, 17, udp(5353, 5353, b"hi")) + bytes(10))  # + padding
    write("packet_fuzz", "eth_qinq_udp", b"\x00" + qinq)
    write("packet_fuzz", "sll_tcp", b"\x01" + sll(ip4(C4, S4, 6, seg)))
    write("packet_fuzz", "sll2_tcp6", b"\x02" + sll2(ip6(C6, S6, 6, seg), 0x86dd))
    write("packet_fuzz", "raw_ip6_ext", b"\x03" + ip6(C6, S6, 0, bytes([6, 0]) + bytes(6) + seg))
    write("packet_fuzz", "null_icmp", b"\x04" + null(ip4(C4, S4, 1, b"\x08\x00\x00\x00\x00\x01\x00\x01")))

    # reassembly_fuzz: chunk byte + 7-byte segments (see reassembly_fuzz.cc).
    def segm(b0, flags, off, length, dt=1, b6=0):
        return bytes([b0, flags]) + struct.pack(">h", off) + bytes([length, dt, b6])
    hand = bytearray([1])
    hand += segm(0x08, SYN, 0, 0)              # client 0 -> 8080 SYN
    hand += segm(0x0c, SYN | ACK, 0, 0)        # server SYN-ACK
    hand += segm(0x08, ACK | PSH, 1, 100)      # in order
    hand += segm(0x08, ACK | PSH, 301, 100)    # out of order
    hand += segm(0x08, ACK | PSH, 151, 200)    # overlap, fills the hole
    hand += segm(0x0c, ACK | PSH, 1, 255)      # the answer, wrapping
    hand += segm(0x09, ACK | PSH, 1000, 50)    # client 1 midstream
    hand += segm(0x08, FIN | ACK, 401, 0)
    hand += segm(0x0c, FIN | ACK, 256, 0, 0x85)
    hand += segm(0x80 | 0x02, ACK | PSH, 0, 10, 0x8a)  # to 9000, then expire
    write("reassembly_fuzz", "handshake_ooo", bytes(hand))
    evict = bytearray([2])
    for c in range(4):
        evict += segm(0x08 | c, SYN, 0, 0)
        evict += segm(0x08 | c, ACK | PSH, 1 + 3000, 200)
    evict += segm(0x38, 0, 0, 20)               # UDP
    write("reassembly_fuzz", "evict", bytes(evict))

    # capture_fuzz: link byte + (len, dt, frame)*.
    conv = tcp_conversation(vs["register"])
    write("capture_fuzz", "eth_register", capture_input(0, frames_v4(conv, eth)))
    write("capture_fuzz", "sll_readwrite_reordered",
          capture_input(1, frames_v4(tcp_conversation(vs["readwrite"], 5, 77, 40001), sll), True))
    write("capture_fuzz", "raw_websocket",
          capture_input(3, frames_v4(tcp_conversation(vs["websocket"], 9, 1 << 31, 40002), lambda ip: ip)))
    tls = tls_sessions(server_der, client_der)["tls12"]
    write("capture_fuzz", "null_tls12",
          capture_input(4, frames_v4(tcp_conversation(tls, 100, 200, 40003, 8080), null)))


if __name__ == "__main__":
    main()
