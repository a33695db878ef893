/* imaging/ms.cc — Stokes I visibilities from a CASA Measurement Set through casacore's table
 * system (C++: casacore has no C interface). Everything C++ stays in this file: ag_read_ms
 * (imaging/ms.c) calls ag__read_ms_casacore, which turns every exception into an ag error, and
 * the samples become an ag_vis through the same code as ag_read_uvfits' (imaging/readers.h). */
#include "ag_config.h"

#include <sys/stat.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <casacore/casa/Arrays/Array.h>
#include <casacore/casa/Exceptions/Error.h>
#include <casacore/tables/Tables/ArrColDesc.h>
#include <casacore/tables/Tables/ArrayColumn.h>
#include <casacore/tables/Tables/ScalarColumn.h>
#include <casacore/tables/Tables/Table.h>
#include <casacore/tables/Tables/TableDesc.h>
#include <casacore/tables/Tables/TableRecord.h>

#include "astrograd/imaging.h"
#include "tensor/layer.h"
#include "imaging/readers.h"

using namespace casacore;

namespace {

const double C_LIGHT = 299792458.0; /* m/s */

/* a problem with the file, reported as it is: code and text after "ag_read_ms: 'path': " */
struct ms_error {
    ag_status code;
    std::string msg;
};
[[noreturn]] void fail(const std::string &msg) { throw ms_error{AG_ERR_FORMAT, msg}; }

bool has_col(const Table &t, const char *name) { return t.tableDesc().isColumn(name); }
void need_col(const Table &t, const char *name, const char *table) {
    if (!has_col(t, name)) fail(std::string("no ") + name + " column in the " + table + " table");
}
Table subtable(const Table &ms, const char *name) {
    const TableRecord &kw = ms.keywordSet();
    if (!kw.isDefined(name) || kw.dataType(name) != TpTable) fail(std::string("no ") + name + " subtable");
    return kw.asTable(name, TableLock(TableLock::AutoNoReadLocking));
}

/* An optional real array column of float or double cells, read as double. */
struct real_col {
    ArrayColumn<Float> f;
    ArrayColumn<Double> d;
    bool present = false, dbl = false;
    real_col(const Table &t, const char *name) {
        if (!has_col(t, name)) return;
        DataType dt = t.tableDesc().columnDesc(name).dataType();
        if (dt == TpFloat) f.attach(t, name);
        else if (dt == TpDouble) d.attach(t, name), dbl = true;
        else fail(std::string("expected a float or double ") + name + " column");
        present = true;
    }
    /* false when the column is absent or the cell undefined (WEIGHT_SPECTRUM often is) */
    bool get(rownr_t r, const IPosition &shape, std::vector<double> &out, const char *name) const {
        if (!present || !(dbl ? d.isDefined(r) : f.isDefined(r))) return false;
        IPosition s = dbl ? d.shape(r) : f.shape(r);
        if (s != shape) fail(std::string("a ") + name + " cell of shape " + s.toString() + ", expected " + shape.toString());
        out.resize(s.product());
        if (dbl) {
            Array<Double> a = d.get(r);
            std::copy(a.begin(), a.end(), out.begin());
        } else {
            Array<Float> a = f.get(r);
            std::copy(a.begin(), a.end(), out.begin());
        }
        return true;
    }
};

/* The data column, complex or double complex, read as double complex. */
struct complex_col {
    ArrayColumn<Complex> f;
    ArrayColumn<DComplex> d;
    bool dbl = false;
    const char *name;
    complex_col(const Table &t, const char *col, bool corrected) : name(col) {
        if (!has_col(t, col))
            fail(corrected ? "no CORRECTED_DATA column (ag_ms_opts.corrected asks for it: calibrate first, or read DATA)"
                           : "no DATA column in the main table");
        const ColumnDesc &cd = t.tableDesc().columnDesc(col);
        if (!cd.isArray() || (cd.dataType() != TpComplex && cd.dataType() != TpDComplex))
            fail(std::string("expected a complex array column ") + col);
        if (cd.dataType() == TpDComplex) d.attach(t, col), dbl = true;
        else f.attach(t, col);
    }
    void get(rownr_t r, const IPosition &shape, std::vector<std::complex<double>> &out) const {
        IPosition s = dbl ? d.shape(r) : f.shape(r);
        if (s != shape) fail(std::string("a ") + name + " cell of shape " + s.toString() + ", expected " + shape.toString() +
                             " (correlations, channels of its POLARIZATION and SPECTRAL_WINDOW rows)");
        out.resize(s.product());
        if (dbl) {
            Array<DComplex> a = d.get(r);
            std::copy(a.begin(), a.end(), out.begin());
        } else {
            Array<Complex> a = f.get(r);
            size_t i = 0;
            for (const Complex &z : a) out[i++] = std::complex<double>(z.real(), z.imag());
        }
    }
};

/* What a DATA_DESC_ID means: its channels' frequencies and which correlations give Stokes I. */
struct desc {
    bool ready = false;
    std::vector<double> freq;
    int ncorr = 0, i1 = -1, i2 = -1; /* i2 < 0: i1 is Stokes I itself */
    int64_t first = 0, count = 0;
};

void describe(desc &dd, int id, const Table &ddt, const Table &spw, const Table &pol, const ag_ms_opts &o) {
    if (id < 0 || (rownr_t)id >= ddt.nrow())
        fail("a DATA_DESC_ID " + std::to_string(id) + " outside the DATA_DESCRIPTION table's " +
             std::to_string(ddt.nrow()) + " rows");
    int s = ScalarColumn<Int>(ddt, "SPECTRAL_WINDOW_ID")(id), p = ScalarColumn<Int>(ddt, "POLARIZATION_ID")(id);
    if (s < 0 || (rownr_t)s >= spw.nrow()) fail("a SPECTRAL_WINDOW_ID outside the SPECTRAL_WINDOW table");
    if (p < 0 || (rownr_t)p >= pol.nrow()) fail("a POLARIZATION_ID outside the POLARIZATION table");
    Array<Double> f = ArrayColumn<Double>(spw, "CHAN_FREQ").get(s);
    dd.freq.assign(f.begin(), f.end());
    Array<Int> ct = ArrayColumn<Int>(pol, "CORR_TYPE").get(p);
    std::vector<int> types(ct.begin(), ct.end());
    dd.ncorr = (int)types.size();
    int iI = -1, iP = -1, iQ = -1;
    for (int k = 0; k < dd.ncorr; k++) {
        if (types[k] == 1) iI = k;                     /* I */
        if (types[k] == 5 || types[k] == 9) iP = k;    /* RR, XX */
        if (types[k] == 8 || types[k] == 12) iQ = k;   /* LL, YY */
    }
    if (iI >= 0) dd.i1 = iI;
    else if (iP >= 0 && iQ >= 0) dd.i1 = iP, dd.i2 = iQ;
    else fail("POLARIZATION row " + std::to_string(p) + " has no I, RR and LL, or XX and YY correlation (CORR_TYPE 1, 5 + 8, 9 + 12)");
    int64_t n = (int64_t)dd.freq.size();
    dd.first = o.first_chan, dd.count = o.nchan ? o.nchan : n - o.first_chan;
    if (o.first_chan >= n || dd.count < 1 || dd.first + dd.count > n)
        fail("channel selection first_chan " + std::to_string(o.first_chan) + ", nchan " + std::to_string(o.nchan) +
             " out of range: spectral window " + std::to_string(s) + " has " + std::to_string(n) + " channels");
    dd.ready = true;
}

ag_vis *read(const char *path, const ag_ms_opts &o) {
    struct stat sb;
    if (stat(path, &sb) != 0) throw ms_error{AG_ERR_IO, "cannot open it (no such file or directory)"};
    if (!Table::isReadable(path)) fail("not a casacore table (expected a Measurement Set directory)");
    Table ms(path, TableLock(TableLock::AutoNoReadLocking), Table::Old);
    const char *dname = o.corrected ? "CORRECTED_DATA" : "DATA";
    complex_col data(ms, dname, o.corrected);
    for (const char *c : {"UVW", "ANTENNA1", "ANTENNA2", "TIME", "FLAG"}) need_col(ms, c, "main");
    real_col wsp(ms, "WEIGHT_SPECTRUM"), ssp(ms, "SIGMA_SPECTRUM"), wrow(ms, "WEIGHT"), srow(ms, "SIGMA");
    if (!wsp.present && !ssp.present && !wrow.present && !srow.present)
        fail("no weights: none of the WEIGHT_SPECTRUM, SIGMA_SPECTRUM, WEIGHT, SIGMA columns");
    Table ddt = subtable(ms, "DATA_DESCRIPTION"), spw = subtable(ms, "SPECTRAL_WINDOW");
    Table pol = subtable(ms, "POLARIZATION"), ant = subtable(ms, "ANTENNA");
    need_col(ddt, "SPECTRAL_WINDOW_ID", "DATA_DESCRIPTION"), need_col(ddt, "POLARIZATION_ID", "DATA_DESCRIPTION");
    need_col(spw, "CHAN_FREQ", "SPECTRAL_WINDOW"), need_col(pol, "CORR_TYPE", "POLARIZATION"), need_col(ant, "NAME", "ANTENNA");
    bool have_field = ms.keywordSet().isDefined("FIELD") && has_col(ms, "FIELD_ID");

    ArrayColumn<Double> uvw_c(ms, "UVW");
    ArrayColumn<Bool> flag_c(ms, "FLAG");
    ScalarColumn<Int> a1_c(ms, "ANTENNA1"), a2_c(ms, "ANTENNA2");
    ScalarColumn<Double> time_c(ms, "TIME");
    ScalarColumn<Bool> flag_row_c;
    ScalarColumn<Int> ddid_c, field_c;
    if (has_col(ms, "FLAG_ROW")) flag_row_c.attach(ms, "FLAG_ROW");
    if (has_col(ms, "DATA_DESC_ID")) ddid_c.attach(ms, "DATA_DESC_ID");
    if (have_field) field_c.attach(ms, "FIELD_ID");
    std::vector<std::string> names;
    for (const String &s : ScalarColumn<String>(ant, "NAME").getColumn()) names.push_back(s);

    std::vector<desc> descs(ddt.nrow());
    std::vector<int> idx(names.size(), -1);
    std::vector<int> order; /* antenna rows in order of first appearance */
    std::vector<double> u, v, d, w, t, wc;
    std::vector<int64_t> a1, a2;
    std::vector<std::complex<double>> cell;
    double ref_freq = 0;
    int first_field = -1;
    for (rownr_t r = 0; r < ms.nrow(); r++) {
        if (!flag_row_c.isNull() && flag_row_c(r)) continue;
        int s1 = a1_c(r), s2 = a2_c(r);
        if (s1 < 0 || s2 < 0 || (size_t)s1 >= names.size() || (size_t)s2 >= names.size())
            fail("row " + std::to_string(r) + ": an antenna number outside the ANTENNA table's " +
                 std::to_string(names.size()) + " rows");
        if (s1 == s2) continue; /* auto-correlation */
        for (int s : {s1, s2})
            if (idx[s] < 0) idx[s] = (int)order.size(), order.push_back(s);
        Array<Double> uvw = uvw_c.get(r);
        if (uvw.nelements() != 3) fail("a UVW cell of other than 3 values");
        double uu = uvw.data()[0], vv = uvw.data()[1], tm = time_c(r);
        if (!std::isfinite(uu) || !std::isfinite(vv) || !std::isfinite(tm)) continue;
        int id = ddid_c.isNull() ? 0 : ddid_c(r);
        if (id < 0 || (size_t)id >= descs.size())
            fail("row " + std::to_string(r) + ": DATA_DESC_ID " + std::to_string(id) + " outside the DATA_DESCRIPTION table");
        desc &dd = descs[id];
        if (!dd.ready) describe(dd, id, ddt, spw, pol, o);
        IPosition shape(2, dd.ncorr, (ssize_t)dd.freq.size());
        data.get(r, shape, cell);
        if (flag_c.shape(r) != shape) fail("a FLAG cell of another shape than the data's");
        Array<Bool> fl = flag_c.get(r);
        const Bool *fp = fl.data();
        /* weights per (correlation, channel); a row's WEIGHT / SIGMA hold one per correlation */
        bool spectral = wsp.get(r, shape, wc, "WEIGHT_SPECTRUM");
        bool sigma = false;
        if (!spectral && (spectral = ssp.get(r, shape, wc, "SIGMA_SPECTRUM"))) sigma = true;
        if (!spectral && !wrow.get(r, IPosition(1, dd.ncorr), wc, "WEIGHT")) {
            if (!srow.get(r, IPosition(1, dd.ncorr), wc, "SIGMA")) fail("row " + std::to_string(r) + ": no weight defined");
            sigma = true;
        }
        for (int64_t k = dd.first; k < dd.first + dd.count; k++) {
            double q[2][3] = {{0}}, out[3];
            int hands[2] = {dd.i1, dd.i2};
            for (int h = 0; h < 2 && hands[h] >= 0; h++) {
                int64_t at = hands[h] + k * dd.ncorr;
                double wt = wc[spectral ? at : hands[h]];
                if (sigma) wt = 1 / (wt * wt);
                q[h][0] = cell[at].real(), q[h][1] = cell[at].imag(), q[h][2] = fp[at] ? 0 : wt;
            }
            if (!ag__stokes_i(q[0], dd.i2 >= 0 ? q[1] : NULL, out) || !(dd.freq[k] > 0)) continue;
            if (u.empty()) ref_freq = dd.freq[dd.first], first_field = have_field ? field_c(r) : -1;
            u.push_back(uu * dd.freq[k] / C_LIGHT), v.push_back(vv * dd.freq[k] / C_LIGHT);
            d.push_back(out[0]), d.push_back(out[1]), w.push_back(out[2]), t.push_back(tm);
            a1.push_back(idx[s1]), a2.push_back(idx[s2]);
        }
    }
    if (u.empty()) fail("no unflagged cross-correlation visibility");
    std::vector<char *> st;
    for (int s : order) st.push_back(const_cast<char *>(names[s].c_str()));
    double ra = 0, dec = 0;
    std::string source;
    bool have_source = false;
    if (first_field >= 0) {
        Table fld = subtable(ms, "FIELD");
        if ((rownr_t)first_field < fld.nrow() && has_col(fld, "PHASE_DIR")) {
            Array<Double> pd = ArrayColumn<Double>(fld, "PHASE_DIR").get(first_field);
            if (pd.nelements() >= 2) ra = pd.data()[0] * 180 / M_PI, dec = pd.data()[1] * 180 / M_PI;
            if (ra < 0) ra += 360;
        }
        if ((rownr_t)first_field < fld.nrow() && has_col(fld, "NAME"))
            source = ScalarColumn<String>(fld, "NAME")(first_field), have_source = true;
    }
    ag_vis *vis = ag__vis_from_samples("ag_read_ms", (int64_t)u.size(), u.data(), v.data(), d.data(), w.data(), t.data(),
                                       a1.data(), a2.data(), st.data(), (int)st.size(), ref_freq);
    if (!vis) return NULL;
    vis->fourier_sign = -1, vis->ra = ra, vis->dec = dec;
    if (have_source && !(vis->source = strdup(source.c_str()))) {
        ag_vis_free(vis);
        throw std::bad_alloc();
    }
    return vis;
}

} // namespace

extern "C" __attribute__((visibility("default"))) ag_vis *ag__read_ms_casacore(const char *path, const ag_ms_opts *opts) {
    try {
        return read(path, *opts);
    } catch (const ms_error &e) {
        ag_set_error(e.code, "ag_read_ms: '%s': %s", path, e.msg.c_str());
    } catch (const std::bad_alloc &) {
        ag_set_error(AG_ERR_NOMEM, "ag_read_ms: '%s': out of memory", path);
    } catch (const std::exception &e) {
        /* AipsError and the rest: a damaged or unusual table */
        ag_set_error(AG_ERR_FORMAT, "ag_read_ms: '%s': casacore could not read the table (%s)", path, e.what());
    } catch (...) {
        ag_set_error(AG_ERR_FORMAT, "ag_read_ms: '%s': casacore failed with an unknown exception", path);
    }
    return NULL;
}
