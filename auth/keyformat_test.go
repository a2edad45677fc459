package auth

import (
	"hash/crc32"
	"strings"
	"testing"
)

func TestNewKeyParses(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != KeyLen || !strings.HasPrefix(k, KeyPrefix) {
			t.Fatalf("bad shape %q", k)
		}
		if err := ParseKey(k); err != nil {
			t.Fatalf("ParseKey(%q) = %v", k, err)
		}
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
	}
}

func TestChecksumIsCRC32Base62(t *testing.T) {
	random := "abcdefghijABCDEFGHIJ0123456789xy"
	// Independent computation: base62 of the CRC, left-padded to 6 with '0'.
	v := crc32.ChecksumIEEE([]byte(random))
	var digits []byte
	for v > 0 {
		digits = append([]byte{alphabet[v%62]}, digits...)
		v /= 62
	}
	want := strings.Repeat("0", 6-len(digits)) + string(digits)
	if got := checksum([]byte(random)); got != want {
		t.Fatalf("checksum = %q, want %q", got, want)
	}
	if !checksumMatches(random, want) || checksumMatches(random, "000000") {
		t.Fatal("checksumMatches disagrees with checksum")
	}
	if n := testing.AllocsPerRun(100, func() { ParseKey(KeyPrefix + random + want) }); n > 1 { // the concatenation
		t.Fatalf("ParseKey allocates %.0f times", n)
	}
	if err := ParseKey(KeyPrefix + random + want); err != nil {
		t.Fatal(err)
	}
}

func TestParseKeyRejects(t *testing.T) {
	good, _ := NewKey()
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":           "",
		"prefix only":     KeyPrefix,
		"wrong prefix":    "sk-steelengin3-" + good[len(KeyPrefix):],
		"sim prefix":      "sk-sim-" + good[len(KeyPrefix):],
		"short":           good[:len(good)-1],
		"long":            good + "0",
		"bad alphabet":    good[:len(KeyPrefix)+3] + "-" + good[len(KeyPrefix)+4:],
		"random changed":  flip(good, len(KeyPrefix)+5),
		"checksum change": flip(good, len(good)-1),
		"whitespace":      " " + good[1:],
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			if err := ParseKey(k); err != ErrMalformedKey {
				t.Fatalf("ParseKey(%q) = %v, want ErrMalformedKey", k, err)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	good, _ := NewKey()
	f.Add(good)
	f.Add("")
	f.Add(KeyPrefix + strings.Repeat("0", 38))
	f.Fuzz(func(t *testing.T, s string) {
		if err := ParseKey(s); err != nil {
			return
		}
		// Anything accepted has the exact shape and a matching checksum.
		if len(s) != KeyLen || !strings.HasPrefix(s, KeyPrefix) {
			t.Fatalf("accepted %q", s)
		}
		body := s[len(KeyPrefix):]
		if checksum([]byte(body[:randomLen])) != body[randomLen:] {
			t.Fatalf("accepted bad checksum %q", s)
		}
	})
}
