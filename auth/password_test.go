package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q is not an argon2id encoding", h)
	}
	if err := CheckPassword(h, "correct horse"); err != nil {
		t.Errorf("right password rejected: %v", err)
	}
	for _, bad := range []string{"", "correct hors", "correct horse "} {
		if err := CheckPassword(h, bad); err != ErrBadPassword {
			t.Errorf("password %q: err = %v, want ErrBadPassword", bad, err)
		}
	}
	if err := CheckPassword("garbage", "x"); err != ErrBadPassword {
		t.Errorf("garbage hash err = %v", err)
	}
	h2, _ := HashPassword("correct horse")
	if h2 == h {
		t.Error("two hashes of one password share a salt")
	}
}
