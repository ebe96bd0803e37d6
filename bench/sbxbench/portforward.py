NAME, TITLE = "portforward", "portforward"

def run(ctx, res):
    ctx.sbxd.need("apply")
