"""Real private keys in PEM / OpenSSH form, made from the generator's seed (key generation in
`cryptography` draws from the OS, so the numbers are chosen here and only encoded there)."""
import base64
import struct

from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def _probable_prime(rng, bits):
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if all(n % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)) and _miller_rabin(rng, n):
            return n


def _miller_rabin(rng, n, rounds=24):
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def rsa_pem(rng, bits=2048):
    e = 65537
    while True:
        p, q = _probable_prime(rng, bits // 2), _probable_prime(rng, bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                    rsa.RSAPublicNumbers(e, p * q))
    key = numbers.private_key()
    fmt = rng.choice([ser.PrivateFormat.TraditionalOpenSSL, ser.PrivateFormat.PKCS8])
    return key.private_bytes(ser.Encoding.PEM, fmt, ser.NoEncryption()).decode()


def ec_pem(rng):
    curve = ec.SECP256R1()
    key = ec.derive_private_key(rng.randrange(1, 2**255), curve)
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption()).decode()


def _ssh_string(data):
    return struct.pack(">I", len(data)) + data


def openssh_ed25519(rng, comment):
    """The `openssh-key-v1` container ssh-keygen writes, unencrypted."""
    seed = rng.randbytes(32)
    pub = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        ser.Encoding.Raw, ser.PublicFormat.Raw)
    kind = b"ssh-ed25519"
    public_blob = _ssh_string(kind) + _ssh_string(pub)
    check = rng.randbytes(4)
    private = (check + check + _ssh_string(kind) + _ssh_string(pub) + _ssh_string(seed + pub)
               + _ssh_string(comment.encode()))
    private += bytes(range(1, 1 + (-len(private) % 8)))
    blob = (b"openssh-key-v1\0" + _ssh_string(b"none") + _ssh_string(b"none") + _ssh_string(b"")
            + struct.pack(">I", 1) + _ssh_string(public_blob) + _ssh_string(private))
    body = base64.b64encode(blob).decode()
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----\n"


def private_key(rng, comment):
    kind = rng.choice(["rsa", "ec", "ssh"])
    if kind == "rsa":
        return rsa_pem(rng)
    if kind == "ec":
        return ec_pem(rng)
    return openssh_ed25519(rng, comment)
