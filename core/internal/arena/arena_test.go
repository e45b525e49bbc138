package arena

import "testing"

func TestMapReleaseReuse(t *testing.T) {
	m, err := Map(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		if m[i] != 0 {
			t.Fatalf("fresh mapping not zero at %d", i)
		}
	}
	m[0], m[len(m)-1] = 7, 9
	Release(m)
	m2, err := Map(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if &m2[0] != &m[0] {
		t.Errorf("released range not reused")
	}
	if m2[0] != 0 || m2[len(m2)-1] != 0 {
		t.Errorf("reused mapping not zeroed: %d %d", m2[0], m2[len(m2)-1])
	}
	if _, err := Map(0); err == nil {
		t.Errorf("Map(0) succeeded")
	}
}
