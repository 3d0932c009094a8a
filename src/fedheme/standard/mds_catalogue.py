"""Catalogue of the MDS molecular variables fedheme harmonises.

The lists follow the IWG-PM cohort (Bernard et al., NEJM Evidence 2022): the genes its
targeted panel covered and the copy-number / cytogenetic alterations it called. A site's
export may carry any subset of them; a gene a site did not sequence is missing, never 0.
"""

PANEL_GENES = (
    'TET2', 'ASXL1', 'SF3B1', 'SRSF2', 'DNMT3A', 'RUNX1', 'TP53', 'STAG2', 'U2AF1', 'EZH2',
    'BCOR', 'CBL', 'ZRSR2', 'NRAS', 'IDH2', 'CUX1', 'NF1', 'KRAS', 'SETBP1', 'DDX41',
    'PHF6', 'JAK2', 'MLL_PTD', 'IDH1', 'PTPN11', 'ETV6', 'ETNK1', 'CEBPA', 'MPL', 'SH2B3',
    'PPM1D', 'BRCC3', 'KMT2C', 'NPM1', 'BCORL1', 'GATA2', 'WT1', 'CTCF', 'ZBTB33', 'EP300',
    'GNB1', 'CSNK1A1', 'ARID2', 'PRPF8', 'ASXL2', 'GNAS', 'U2AF2', 'KMT2D', 'KIT', 'NFE2',
    'RAD21', 'CREBBP', 'SMC1A', 'KDM6A', 'CSF3R', 'DDX54', 'FLT3', 'FLT3_ITD', 'MGA',
    'LUC7L2', 'SUZ12', 'BRAF', 'EED', 'IRF1', 'ATRX', 'DDX4', 'STAT3', 'RAD50', 'CALR',
    'ROBO2', 'SMC3', 'DDX23', 'ROBO1', 'SETD2', 'TERT', 'DHX33', 'GATA1', 'MYC', 'PIK3CA',
    'RB1', 'RRAS', 'CDKN2A', 'EGFR', 'CSF1R', 'DNMT3B', 'ZMYM3', 'RAC1', 'STAT5A', 'ARID1A',
    'CHEK2', 'MLL', 'SPRED2', 'KDM5C', 'NOTCH2', 'CDKN1B', 'DICER1', 'NIPBL', 'SAMHD1',
    'SMG1', 'FAM175A', 'H3F3A', 'PAPD5', 'SF1', 'SRCAP', 'STAG1', 'WHSC1', 'ABL1', 'CDKN2B',
    'HIPK2', 'NOTCH1', 'PAX5', 'PTEN', 'BAP1', 'BCL10', 'CDK4', 'CDKN2C', 'IRF4', 'IRF8',
    'JAK3', 'JARID2', 'NF2', 'NXF1', 'PRPF40A', 'PTPRF', 'RBBP4', 'ZNF318',
)

# Assay results named after a gene that are not HGNC gene symbols themselves.
NON_GENE_ASSAYS = {
    "MLL_PTD": "KMT2A partial tandem duplication (HGNC: KMT2A)",
    "FLT3_ITD": "FLT3 internal tandem duplication (HGNC: FLT3)",
}

# Panel names that HGNC has since renamed: panel name -> current approved symbol.
HGNC_RENAMED = {
    "MLL": "KMT2A",
    "WHSC1": "NSD2",
    "FAM175A": "ABRAXAS1",
    "H3F3A": "H3-3A",
    "PAPD5": "TENT4B",
}

CNA_EVENTS = (
    'del5q', 'plus8', 'del7', 'del20q', 'delY', 'del7q', 'del12p', 'del13', 'plus21',
    'del17p', 'del11q', 'del18', 'del3p', 'del16q', 'plus13', 'del4q', 'plus22', 'plus1p',
    'del17', 'del15', 'del1p', 'del21', 'plus11q', 'del9q', 'plus14', 'plus15', 'del20',
    'del12q', 'del5', 'plus19', 'del14', 'del11p', 'plus11', 'del12', 'del16', 'del22',
    'del18q', 'del2p', 'plus1', 'delX', 'plus17q', 'r_1_7', 'del3', 'del3q', 'del6p',
    'plus19p', 'plus9', 'del2q', 'plus19q', 'plus5p', 'plus9p', 'ring', 'r_3_3', 'plus3q',
    'plus9q', 'plus2p', 'plus6p', 'plusX', 'r_5_17', 'del16p', 'del4p', 'del6q', 'del9',
    'plus10', 'plus8q', 'r_5_7', 'iso17q', 'del1q', 'plus20', 'plus3p', 'plus6', 'del8',
    'del10', 'del19', 'del2', 'del7p', 'plus12', 'plus12q', 'plus20q', 'del20p', 'del4',
    'del6', 'del8p', 'plus16q', 'plus5', 'plusY', 'r_12_17', 'r_3_7', 'r_7_7', 'plus12p',
    'del18p', 'plus11p', 'plus18', 'r_12_12', 'r_2_11', 'r_3_5', 'r_7_17', 'del1', 'del11',
    'del17q', 'plus10p', 'plus16p', 'plus20p', 'plus4q', 'plus7p', 'r_1_5', 'r_17_17',
    'r_5_5', 'r_x_x', 'plus17p', 'plus7q', 'plus5q', 'del10q', 'del19q', 'del8q', 'plus18p',
    'r_1_12', 'r_1_2', 'r_1_20', 'r_2_3', 'r_2_7', 'r_20_21', 'r_21_21', 'r_3_21', 'r_4_12',
    'r_6_9', 'del10p', 'del21p', 'del9p', 'delXq', 'plus2', 'plus21q', 'plus2q', 'plus3',
    'plus6q', 'plus7', 'plus8p', 'r_1_13', 'r_1_3', 'r_1_8', 'r_1_9', 'r_12_15', 'r_13_13',
    'r_13_20', 'r_14_21', 'r_17_18', 'r_17_20', 'r_2_20', 'r_22_22', 'r_3_18', 'r_3_6',
    'r_4_4', 'r_5_13', 'r_5_18', 'r_6_6', 'r_7_18', 'r_7_19', 'r_7_21', 'r_8_12', 'r_8_8',
    'r_9_12', 'r_9_21', 'plus18q', 'plus17', 'del19p', 'plus10q', 'plus4', 'plus4p',
    'plusXq', 'r_1_10', 'r_1_11', 'r_1_14', 'r_1_16', 'r_1_22', 'r_1_4', 'r_1_6', 'r_10_10',
    'r_10_13', 'r_10_19', 'r_11_11', 'r_11_13', 'r_11_19', 'r_12_13', 'r_12_22', 'r_14_17',
    'r_15_19', 'r_16_20', 'r_17_21', 'r_19_20', 'r_2_10', 'r_2_2', 'r_2_5', 'r_2_6',
    'r_3_11', 'r_3_17', 'r_3_4', 'r_3_9', 'r_4_11', 'r_5_19', 'r_5_22', 'r_6_13', 'r_7_12',
    'r_7_15', 'r_7_20', 'r_8_14', 'r_9_16', 'r_9_22', 'delXp', 'r_1_1', 'r_1_15', 'r_1_17',
    'r_1_19', 'r_1_21', 'r_1_3_14', 'r_1_4_15', 'r_1_5_10', 'r_1_Y', 'r_10_11', 'r_10_15',
    'r_10_16', 'r_11_12', 'r_11_14', 'r_11_16', 'r_11_17', 'r_11_22', 'r_12_16', 'r_12_18',
    'r_13_14', 'r_13_18', 'r_13_21', 'r_13_22', 'r_14_14', 'r_14_18', 'r_15_17', 'r_15_18',
    'r_15_20', 'r_15_21', 'r_15_22', 'r_16_19', 'r_17_22', 'r_18_19', 'r_18_21', 'r_19_19',
    'r_2_13', 'r_2_15', 'r_2_17', 'r_2_19', 'r_2_21', 'r_2_22', 'r_2_3_6', 'r_2_5_7',
    'r_2_8', 'r_20_20', 'r_21_22', 'r_3_10', 'r_3_13', 'r_3_14', 'r_3_16', 'r_3_19',
    'r_3_8', 'r_4_10', 'r_4_17', 'r_4_18', 'r_4_21', 'r_4_5', 'r_4_7', 'r_4_8', 'r_4_9',
    'r_5_12', 'r_5_13_16', 'r_5_14', 'r_5_15', 'r_5_20', 'r_5_21', 'r_5_8', 'r_6_11',
    'r_6_12', 'r_6_15', 'r_6_19', 'r_6_20', 'r_6_22', 'r_6_7', 'r_7_13', 'r_7_16', 'r_7_22',
    'r_7_8', 'r_8_13', 'r_8_17', 'r_8_18', 'r_8_21', 'r_8_9', 'r_9_11', 'r_9_17', 'r_9_19',
    'r_x_14', 'r_x_16', 'r_x_17', 'r_x_19', 'r_x_4', 'r_x_5', 'r_x_6', 'r_y_11',
    'r_y_11_20', 'r_y_13', 'r_y_5',
)
