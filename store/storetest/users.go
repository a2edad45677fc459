package storetest

import "testing"

func testUsers(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
