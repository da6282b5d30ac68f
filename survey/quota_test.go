package survey

import (
	"slices"
	"testing"
)

func TestQuotaHold(t *testing.T) {
	q, err := Parse([]byte(`id: q
title: Q
languages: [en]
contact: [segment, region]
questions:
  - id: region
    type: choice
    text: {en: "Region?"}
    options: [{value: north, key: 1, text: {en: "North"}}, {value: south, key: 2, text: {en: "South"}}]
quotas:
  - id: north
    when: region == "north" or contact.region == "north"
    target: 2
  - id: business
    when: contact.segment == "business"
    target: 1
  - id: asked
    when: region == "south"
    target: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := q.ContactCells(map[string]string{"segment": "business", "region": "north"}); !slices.Equal(got, []string{"north", "business"}) {
		t.Errorf("cells %v, want north and business (known from the sample)", got)
	}
	if got := q.ContactCells(map[string]string{"segment": "consumer"}); len(got) != 0 {
		t.Errorf("cells %v, want none: the answers decide", got)
	}
	targets := q.QuotaTargets(CampaignSettings{Quotas: map[string]int{"north": 5}})
	full := FullCells(targets, map[string]int{"north": 4, "business": 1, "asked": 3})
	if !slices.Equal(full, []string{"asked", "business"}) {
		t.Errorf("full %v", full)
	}
	if h := QuotaHold([]string{"north", "business"}, full); h != "business" {
		t.Errorf("hold %q, want business", h)
	}
	if h := QuotaHold([]string{"north"}, full); h != "" {
		t.Errorf("hold %q, want none (north has room)", h)
	}
}
