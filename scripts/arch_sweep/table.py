"""The sweep's results as one markdown table (README "Architectures beyond the fixtures"):
every $ARCH_SWEEP/*/result.json that evaluate.py wrote, with the errors against ONNX Runtime and,
where $ARCH_SWEEP/base_results/<name>.json holds an earlier binary's result, what changed."""
import json, glob, os, numpy as np
ROOT = os.environ.get('ARCH_SWEEP', '/tmp/arch-sweep')
rows=[]
for f in sorted(glob.glob(ROOT + '/*/result.json')):
    d=os.path.dirname(f); name=os.path.basename(d)
    r=json.load(open(f)); info=json.load(open(d+'/info.json'))
    base=json.load(open(f'{ROOT}/base_results/{name}.json')) if os.path.exists(f'{ROOT}/base_results/{name}.json') else None
    def errs(tag):
        out=[]
        for feed in sorted(glob.glob(d+'/feed*')):
            fn=os.path.basename(feed)
            p=f'{d}/out_{tag}_{fn}/last_hidden_state.npy'
            if not os.path.exists(p): out.append('-'); continue
            a=np.load(p).astype(np.float64); e=np.load(feed+'/ort_last_hidden_state.npy').astype(np.float64)
            mx=np.abs(a-e).max(); out.append(f"{mx:.1e}/{mx/np.abs(e).max():.1e}")
        return ' ; '.join(out)
    ex=r.get('exact',{})
    run='ok' if ex and all(v.get('run')=='ok' for v in ex.values()) else ('-' if not ex else 'FAIL')
    bal=r.get('balanced',{})
    bok='ok' if r.get('balanced_convert')=='ok' and all(v.get('run')=='ok' for v in bal.values()) else ('conv fail' if r.get('balanced_convert')=='failed' else 'run fail')
    before=''
    if base:
        if base.get('convert')!='ok': before='refused: '+(base.get('convert_error') or '')[:90]
        elif base.get('attention')!=r.get('attention'): before=f"matched {base.get('attention')}/{base.get('softmax_before')}"
    rows.append((name, info.get('shapes'), r.get('convert'), f"{r.get('attention')}/{r.get('softmax_before')}", ','.join(r.get('masks') or []), ','.join(r.get('unsupported_ops') or []) or '-', run, errs('exact'), bok, before))
print('| file | shapes | convert | attn matched/softmax | masks | unsupported | run | max abs / (max abs ÷ max\\|ORT\\|), feed0 ; feed1 | balanced | before fixes |')
print('|'+'---|'*10)
for row in rows: print('| '+' | '.join(str(x) for x in row)+' |')
