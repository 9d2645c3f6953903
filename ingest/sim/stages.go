package sim

// CategoryStages are the categories' life-cycle stages over the simulated
// range ("introduction", "growth", "maturity" or "decline") by category name:
// the ground truth a life-cycle classification of the simulated sales is
// checked against.
func (g *Generator) CategoryStages() map[string]string {
	out := make(map[string]string, len(g.catNames))
	for i, name := range g.catNames {
		out[name] = g.stages[i].String()
	}
	return out
}
