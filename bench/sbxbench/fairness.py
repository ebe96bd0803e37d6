NAME, TITLE = "fairness", "fairness"

def run(ctx, res):
    ctx.sbxd.need("apply")
