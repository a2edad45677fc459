package auth

import (
	"crypto/rand"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
)

// KeyPrefix starts every SteelEngine API key, so secret scanners can find them.
const KeyPrefix = "sk-steelengine-"

const (
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randomLen   = 32 // 32 base62 characters ≈ 190 bits
	checksumLen = 6  // CRC32 in base62, zero-padded: 62^6 > 2^32
	// KeyLen is the length of a well-formed key.
	KeyLen = len(KeyPrefix) + randomLen + checksumLen
)

// ErrMalformedKey reports a key that cannot be a SteelEngine key: wrong prefix,
// length, alphabet or checksum. It is decided without the store.
var ErrMalformedKey = errors.New("malformed API key")

// NewKey returns a fresh random key.
func NewKey() (string, error) {
	var b strings.Builder
	b.Grow(KeyLen)
	b.WriteString(KeyPrefix)
	random := make([]byte, randomLen)
	max := big.NewInt(int64(len(alphabet)))
	for i := range random {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		random[i] = alphabet[n.Int64()]
	}
	b.Write(random)
	b.WriteString(checksum(random))
	return b.String(), nil
}

// ParseKey checks a key's shape and checksum; it never touches the store.
func ParseKey(key string) error {
	if len(key) != KeyLen || !strings.HasPrefix(key, KeyPrefix) {
		return ErrMalformedKey
	}
	body := key[len(KeyPrefix):]
	for i := 0; i < len(body); i++ {
		if !isBase62(body[i]) {
			return ErrMalformedKey
		}
	}
	// A checksum is not a secret: a plain comparison leaks nothing.
	if !checksumMatches(body[:randomLen], body[randomLen:]) {
		return ErrMalformedKey
	}
	return nil
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func checksum(random []byte) string { return encodeBase62(crc32.ChecksumIEEE(random)) }

// checksumMatches reports whether sum is random's checksum, without allocating: it
// runs on every request.
func checksumMatches(random, sum string) bool {
	crc := ^uint32(0) // CRC-32 (IEEE) over the string itself, as crc32.ChecksumIEEE
	for i := 0; i < len(random); i++ {
		crc = crc32.IEEETable[byte(crc)^random[i]] ^ (crc >> 8)
	}
	var out [checksumLen]byte
	base62Into(&out, ^crc)
	return string(out[:]) == sum
}

func encodeBase62(v uint32) string {
	var out [checksumLen]byte
	base62Into(&out, v)
	return string(out[:])
}

func base62Into(out *[checksumLen]byte, v uint32) {
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
}

// Suffix returns the last four characters of a key, the part lists may show.
func Suffix(key string) string {
	if len(key) < 4 {
		return key
	}
	return key[len(key)-4:]
}
