/*
** pakn_rank: FTS5's bm25, with each report's length read from memory (indexer/native_rank.py).
**
** FTS5's own bm25() reads a row's length (its token count, the "D" of bm25) with a statement on
** the %_docsize table for every row it scores: more than half of a search's ranking time. This
** function computes the same number, in the same floating-point order, but takes D from a blob
** of 16-bit lengths indexed by rowid, made once per index state in each process
** (indexer/sqlite_columns.py); a length of 0 (not known, or too long for 16 bits) is read from
** %_docsize as bm25() does. Built by `make native`; where it is not built, the engine ranks with
** bm25() and gives the same answers, more slowly.
**
**   pakn_rank(fts, lengths, phrases, hits, w0, w1, ...)
**       the weights per column, as bm25(fts, w0, w1, ...); only the expression's first ``phrases``
**       phrases score (0: all), so that phrases after them only narrow the rows (the same score
**       as bm25() of the expression without them); ``hits``: how many rows each scoring phrase
**       matches (8-byte integers, native order), counted by the caller for the same index state
**       (bm25's IDF; NULL: counted here, by reading each phrase's posting list, as bm25() does)
**   pakn_tokens(sz)                       -- a %_docsize record's token count (the sum of its
**                                            varints), for building the lengths blob
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct RankData {
  int nPhrase;    /* phrases of the query */
  int nCol;       /* columns of the table */
  double avgdl;   /* average row length in tokens */
  double *aIDF;   /* IDF per phrase */
  double *aW;     /* weight per column */
} RankData;

static int countRow(const Fts5ExtensionApi *pApi, Fts5Context *pFts, void *pUser){
  (void)pApi; (void)pFts;
  (*(sqlite3_int64*)pUser)++;
  return SQLITE_OK;
}

/* The query's constants, computed once per query exactly as fts5Bm25GetData() does. */
static int rankData(const Fts5ExtensionApi *pApi, Fts5Context *pFts, int nScored, sqlite3_value *pHits,
                    int nWeight, sqlite3_value **apWeight, RankData **ppOut){
  RankData *p = (RankData*)pApi->xGetAuxdata(pFts, 0);
  if( p ){ *ppOut = p; return SQLITE_OK; }
  int nPhrase = pApi->xPhraseCount(pFts);
  if( nScored>0 && nScored<nPhrase ) nPhrase = nScored;
  int nCol = pApi->xColumnCount(pFts);
  sqlite3_int64 nRow = 0, nToken = 0;
  int rc = pApi->xRowCount(pFts, &nRow);
  if( rc==SQLITE_OK ) rc = pApi->xColumnTotalSize(pFts, -1, &nToken);
  if( rc!=SQLITE_OK ) return rc;
  p = (RankData*)sqlite3_malloc64(sizeof(RankData) + sizeof(double) * (sqlite3_uint64)(nPhrase + nCol));
  if( p==0 ) return SQLITE_NOMEM;
  p->nPhrase = nPhrase;
  p->nCol = nCol;
  p->aIDF = (double*)&p[1];
  p->aW = &p->aIDF[nPhrase];
  p->avgdl = (double)nToken / (double)nRow;
  for(int i=0; i<nCol; i++){
    p->aW[i] = (nWeight > i) ? sqlite3_value_double(apWeight[i]) : 1.0;
  }
  const unsigned char *aHits = (const unsigned char*)sqlite3_value_blob(pHits);
  if( aHits && sqlite3_value_bytes(pHits)!=(int)(nPhrase * sizeof(sqlite3_int64)) ) aHits = 0;
  for(int i=0; rc==SQLITE_OK && i<nPhrase; i++){
    sqlite3_int64 nHit = 0;
    if( aHits ){
      memcpy(&nHit, &aHits[i * sizeof(sqlite3_int64)], sizeof(sqlite3_int64));
    }else{
      rc = pApi->xQueryPhrase(pFts, i, (void*)&nHit, countRow);
    }
    if( rc==SQLITE_OK ){
      double idf = log( (nRow - nHit + 0.5) / (nHit + 0.5) );
      if( idf<=0.0 ) idf = 1e-6;
      p->aIDF[i] = idf;
    }
  }
  if( rc==SQLITE_OK ){
    rc = pApi->xSetAuxdata(pFts, p, sqlite3_free);  /* frees p itself on failure */
  }else{
    sqlite3_free(p);
  }
  if( rc==SQLITE_OK ) *ppOut = p;
  return rc;
}

static void rankFunction(const Fts5ExtensionApi *pApi, Fts5Context *pFts, sqlite3_context *pCtx,
                         int nVal, sqlite3_value **apVal){
  const double k1 = 1.2;
  const double b = 0.75;
  if( nVal<3 ){
    sqlite3_result_error(pCtx, "pakn_rank(fts, lengths, phrases, hits, weights...): too few arguments", -1);
    return;
  }
  RankData *p = 0;
  int rc = rankData(pApi, pFts, sqlite3_value_int(apVal[1]), apVal[2], nVal - 3, &apVal[3], &p);
  if( rc!=SQLITE_OK ){ sqlite3_result_error_code(pCtx, rc); return; }

  /* D: from the lengths blob (2 bytes per rowid, native order), else from %_docsize */
  const unsigned char *aLen = (const unsigned char*)sqlite3_value_blob(apVal[0]);
  sqlite3_int64 nLen = sqlite3_value_bytes(apVal[0]) / 2;
  sqlite3_int64 iRowid = pApi->xRowid(pFts);
  int nTok = 0;
  if( aLen && iRowid>=0 && iRowid<nLen ){
    uint16_t v;
    memcpy(&v, &aLen[iRowid * 2], 2);
    nTok = v;
  }
  if( nTok==0 ){
    rc = pApi->xColumnSize(pFts, -1, &nTok);
    if( rc!=SQLITE_OK ){ sqlite3_result_error_code(pCtx, rc); return; }
  }
  double D = (double)nTok;

  /* Each phrase's weighted frequency in the row: its instances in (column, offset) order, the
  ** order in which bm25() adds them up (so that the sums, and the scores, are the same). */
  double score = 0.0;
  for(int i=0; i<p->nPhrase; i++){
    Fts5PhraseIter it;
    int iCol = -1, iOff = 0;
    double f = 0.0;
    for(rc = pApi->xPhraseFirst(pFts, i, &it, &iCol, &iOff);
        rc==SQLITE_OK && iCol>=0;
        pApi->xPhraseNext(pFts, &it, &iCol, &iOff)){
      f += (iCol < p->nCol) ? p->aW[iCol] : 1.0;
    }
    if( rc!=SQLITE_OK ){ sqlite3_result_error_code(pCtx, rc); return; }
    score += p->aIDF[i] * ( ( f * (k1 + 1.0) ) / ( f + k1 * (1 - b + b * D / p->avgdl) ) );
  }
  sqlite3_result_double(pCtx, -1.0 * score);
}

/* The token count of a %_docsize record: one varint per column, in SQLite's varint format (big
** endian, 7 bits a byte, high bit set on all but the last byte; a 9th byte holds 8 bits). */
static void tokensFunction(sqlite3_context *pCtx, int nVal, sqlite3_value **apVal){
  (void)nVal;
  const unsigned char *a = (const unsigned char*)sqlite3_value_blob(apVal[0]);
  int n = sqlite3_value_bytes(apVal[0]);
  sqlite3_int64 total = 0;
  int i = 0;
  while( a && i<n ){
    sqlite3_uint64 v = 0;
    for(int j=0; i<n; j++){
      unsigned char c = a[i++];
      if( j==8 ){ v = (v << 8) | c; break; }
      v = (v << 7) | (c & 0x7f);
      if( (c & 0x80)==0 ) break;
    }
    total += (sqlite3_int64)v;
  }
  sqlite3_result_int64(pCtx, total);
}

static fts5_api *fts5Api(sqlite3 *db){
  fts5_api *pRet = 0;
  sqlite3_stmt *pStmt = 0;
  if( sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &pStmt, 0)==SQLITE_OK ){
    sqlite3_bind_pointer(pStmt, 1, (void*)&pRet, "fts5_api_ptr", 0);
    sqlite3_step(pStmt);
  }
  sqlite3_finalize(pStmt);
  return pRet;
}

/* Registered with sqlite3_auto_extension(): runs for every connection the process opens. */
int pakn_rank_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi){
  (void)pzErrMsg;
  SQLITE_EXTENSION_INIT2(pApi);
  fts5_api *pFts5 = fts5Api(db);
  if( pFts5==0 || pFts5->iVersion<2 ) return SQLITE_OK;  /* no FTS5 here: nothing to add */
  /* A failure is not returned: it would fail the opening of every connection of the process (the
  ** app's database too). A connection without the functions fails the searches that call them,
  ** and native_rank.py checks them on a connection of its own before the engine uses them. */
  if( pFts5->xCreateFunction(pFts5, "pakn_rank", 0, rankFunction, 0)==SQLITE_OK ){
    sqlite3_create_function(db, "pakn_tokens", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                            0, tokensFunction, 0, 0);
  }
  return SQLITE_OK;
}
