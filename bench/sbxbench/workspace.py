NAME, TITLE = "workspace", "workspace"

def run(ctx, res):
    ctx.sbxd.need("apply")
