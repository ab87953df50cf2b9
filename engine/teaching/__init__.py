"""Teaching mode, Qt-free: explanations computed from a node's real numbers, the convolution playground's
step-by-step arithmetic, and the guided lessons with their checklists."""
