NAME, TITLE = "density", "density"

def run(ctx, res):
    ctx.sbxd.need("apply")
