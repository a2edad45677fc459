package storetest

import "testing"

func testOAuth(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
