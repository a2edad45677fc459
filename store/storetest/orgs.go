package storetest

import "testing"

func testOrgs(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
