"""What the stage scripts share: done markers keyed on what made a step's output."""
