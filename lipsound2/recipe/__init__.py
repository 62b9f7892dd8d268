"""What the stage scripts share: done markers keyed on what made a step's output, and the
helpers of the parallel jobs they launch."""
