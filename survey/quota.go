package survey

// This file is the quota hold: a case whose sample record already puts it
// in a quota cell that is full is not called — calling it could only give
// an interview the quota does not want. Which cells a contact is in is
// known before the interview when a cell's condition holds on the contact
// fields alone (contact.segment == "business"); a cell decided by answers
// (region == "north" asked in the interview) holds no case back.

import "slices"

// ContactCells are the quota cells the contact is in whatever the
// interview's answers turn out to be: those whose condition holds with no
// answer given.
func (q *Questionnaire) ContactCells(contact map[string]string) []string {
	e := env(q, nil, contact)
	var ids []string
	for _, qt := range q.Quotas {
		if qt.when == nil {
			continue
		}
		if v, ok := qt.when.eval(e); ok && v == true {
			ids = append(ids, qt.ID)
		}
	}
	return ids
}

// QuotaTargets are q's quota targets with the campaign's own (st.Quotas)
// in place of the questionnaire's.
func (q *Questionnaire) QuotaTargets(st CampaignSettings) map[string]int {
	t := map[string]int{}
	for _, qt := range q.Quotas {
		t[qt.ID] = qt.Target
		if v, ok := st.Quotas[qt.ID]; ok {
			t[qt.ID] = v
		}
	}
	return t
}

// FullCells are the cells whose completes reached their target, sorted.
func FullCells(targets, filled map[string]int) []string {
	var full []string
	for id, t := range targets {
		if filled[id] >= t {
			full = append(full, id)
		}
	}
	slices.Sort(full)
	return full
}

// QuotaHold is the full cell that holds a contact in cells back ("" for
// none): the first of cells that is full.
func QuotaHold(cells, full []string) string {
	for _, c := range cells {
		if slices.Contains(full, c) {
			return c
		}
	}
	return ""
}
